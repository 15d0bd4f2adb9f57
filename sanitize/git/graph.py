"""The commit graph of some tips, walked once per purge.

``rev-list --topo-order --reverse --parents`` over every tip is the one walk of
the whole history that scan (which refs reach a finding), plan (what a rewrite
changes) and rewrite (its inventory) all need. Commit ids name their content,
so the graph of a set of tip commits is the same in any repository that holds
them: given a workdir, the first stage stores it there and the others read it
back instead of walking again. The tips are sorted first, so every stage asks
for, and gets, the same topological order.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sanitize.git.runner import run

CACHE_SCHEMA = "git-sanitize/commit-graph/v1"


@dataclass(frozen=True)
class CommitGraph:
    """Commits in topological order (oldest first) and each one's parents."""

    order: list[str]
    parents: dict[str, tuple[str, ...]]

    @classmethod
    def walk(cls, repo: str | os.PathLike[str], tips: Iterable[str]) -> CommitGraph:
        """The graph of ``tips`` (commit ids), walked now, in the order the tips are given."""
        starts = "".join(f"{c}\n" for c in dict.fromkeys(tips))
        if not starts:
            return cls([], {})
        text = run(["rev-list", "--stdin", "--topo-order", "--reverse", "--parents"], cwd=repo,
                   input=starts.encode()).stdout.decode("ascii")
        order: list[str] = []
        parents: dict[str, tuple[str, ...]] = {}
        for line in text.splitlines():
            ids = line.split()
            if ids:
                order.append(ids[0])
                parents[ids[0]] = tuple(ids[1:])
        return cls(order, parents)


def _cache_file(cache: Path, tips: list[str]) -> Path:
    key = hashlib.sha256("\n".join(tips).encode("ascii")).hexdigest()[:32]
    return cache / f"commit-graph-{key}.json"


def load(repo: str | os.PathLike[str], tips: Iterable[str], *, cache: Path | None = None) -> CommitGraph:
    """The graph of the tip commits ``tips`` (sorted, each once); read from, or else stored in, the
    directory ``cache`` (a purge's workdir) when one is given."""
    wanted = sorted(set(tips))
    if cache is None:
        return CommitGraph.walk(repo, wanted)
    path = _cache_file(cache, wanted)
    try:
        doc = json.loads(path.read_text(encoding="ascii"))
        if doc.get("schema") == CACHE_SCHEMA and doc.get("tips") == wanted:
            return CommitGraph(list(doc["order"]), {c: tuple(p) for c, p in doc["parents"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # absent or unreadable: walk again (the cache is only ever a copy)
    graph = CommitGraph.walk(repo, wanted)
    from sanitize.workdir import write_atomic  # the workdir's writer (0600, atomic); it needs no git

    doc = {"schema": CACHE_SCHEMA, "tips": wanted, "order": graph.order,
           "parents": {c: list(p) for c, p in graph.parents.items()}}
    write_atomic(path, json.dumps(doc, separators=(",", ":")) + "\n")
    return graph
