"""The blast radius of a purge: exactly which commits, refs and signatures the rewrite must change.

A commit must change when it carries purged content itself (its tree holds a deleted path or a blob
holding a planned value, or its message holds a value), or when it descends from such a commit (its
parent ids change). Every other commit keeps its id, its signature and the tags on it: the rewrite
exports only the changed commits (``rev_list_args``: the refs that reach them, minus the history of
the unchanged parents at the boundary), since git fast-export strips signatures from whatever it
exports and a whole-history export would re-make every signed commit and everything after it.

``plan`` computes this to tell the reviewers what will change; ``rewrite`` computes it again on the
fresh mirror (same function, same inputs: the tips are checked equal), exports exactly that range,
and checks the result against it. The rewrite's record then carries the numbers approve, notify and
status show.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sanitize import git
from sanitize.artifacts.blast_numbers import BlastNumbers
from sanitize.names import is_shown
from sanitize.purge.plan import Change, History, peel_commits

ZERO = "0" * 40
_HEX = re.compile(r"[0-9a-f]{40}")
_SIG_HEADERS = (b"\ngpgsig ", b"\ngpgsig-sha256 ")
_TAG_SIGNATURES = (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SSH SIGNATURE-----",
                   b"-----BEGIN SIGNED MESSAGE-----")


@dataclass(frozen=True)
class BlastRadius:
    """What a purge changes, and why (ids are original ones; lists are sorted)."""

    commits_total: int
    refs_total: int
    carriers: list[str]        # commits whose own tree or message holds purged content
    changed: list[str]         # carriers and every descendant: the commits that get a new id
    refs: dict[str, int]       # every ref that changes → changed commits it reaches (0: only its tag message)
    first_changed: dict[str, str]  # ref → the earliest changed commit it reaches
    exported: list[str]        # the changed commits git-filter-repo rewrites (all but re-filed notes tips)
    export_refs: list[str]     # the refs git-filter-repo rewrites (notes refs only re-filed are left out)
    boundary: list[str]        # unchanged parents of changed commits (and commits under re-made tags): not exported
    notes_refiled: list[str]   # notes refs whose tip is re-made because a note's commit changes
    signed_commits: list[str]  # changed commits that are signed: the signature cannot survive
    signed_tags: list[str]     # refs of signed tags that are re-made: the signature cannot survive

    @property
    def descendants(self) -> int:
        """Commits that change only because an ancestor changed."""
        return len(self.changed) - len(self.carriers)

    def rev_list_args(self) -> list[str]:
        """git-filter-repo ``--refs`` arguments: exactly the changed commits, and the refs on them."""
        return [*self.export_refs, *(f"^{c}" for c in self.boundary)]

    def summary(self) -> dict[str, Any]:
        """The numbers plan, rewrite report, approve and notify all state."""
        return {
            "commits_total": self.commits_total, "commits_changing": len(self.changed),
            "commits_carrying_purged_content": len(self.carriers), "commits_descendants_only": self.descendants,
            "refs_total": self.refs_total, "refs_changing": dict(self.refs),
            "refs_untouched": self.refs_total - len(self.refs),
            "signed_commits_losing_signature": len(self.signed_commits),
            "signed_tags_losing_signature": len(self.signed_tags),
        }

    def numbers(self) -> BlastNumbers:
        """:meth:`summary`, typed: what the rewrite record carries to approve, notify and status."""
        return BlastNumbers.parse(self.summary(), "blast radius")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlastRadius:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def describe(numbers: BlastNumbers | Mapping[str, object]) -> str:
    """One line for people: how many commits and refs change, why, and what cannot survive
    (``numbers``: typed, or a JSON object that holds them among other keys, such as plan.json's summary)."""
    if not isinstance(numbers, BlastNumbers):
        numbers = BlastNumbers.parse(dict(numbers), "blast radius", ignore=frozenset(numbers))
    return numbers.describe()


def matches_path(path: str, deleted: Iterable[str]) -> bool:
    """True if ``path`` is a deleted path or lies under one (how --invert-paths --paths-from-file matches)."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deleted)


def _objects_with_values(repo: str | os.PathLike[str], values: list[bytes],
                         names: Sequence[bytes] = (), holders: set[str] | None = None,
                         ) -> tuple[set[str], set[str], set[str]]:
    """(blobs, commits, tags) whose content, or message, holds a planned value: one read of every object.

    --replace-text rewrites every blob that holds a value and --replace-message every commit and tag
    message, found by the scan's rules or not; so the search is for the values themselves. ``names``
    (values in identities or tag names) are looked for in the whole commit or tag object, header included.
    ``holders``: filled with every object of any type whose whole bytes hold a value, from the same read
    (the rewrite's verification then reads only the objects the rewrite made).
    """
    blobs: set[str] = set()
    commits: set[str] = set()
    tags: set[str] = set()
    if not values and not names:
        return blobs, commits, tags
    needles = sorted(set(values))
    in_header = sorted(set(names))

    def holds(data: bytes) -> bool:  # bytes.__contains__ per value: far faster than one regex alternation
        return any(v in data for v in needles)

    for sha, kind, data in git.objects.read(repo):
        if holders is not None and kind != "blob" and holds(data):
            holders.add(sha)
        if kind == "blob":
            if holds(data):
                blobs.add(sha)
                if holders is not None:
                    holders.add(sha)
        elif kind in ("commit", "tag"):
            head, _, message = data.partition(b"\n\n")
            if holds(message) or any(v in head for v in in_header):
                (commits if kind == "commit" else tags).add(sha)
    return blobs, commits, tags


def _raw_objects(repo: str | os.PathLike[str], shas: list[str]) -> dict[str, bytes]:
    return {sha: data for sha, _kind, data in git.objects.read(repo, shas)}


def is_signed_commit(raw: bytes) -> bool:
    head = raw.split(b"\n\n", 1)[0]
    return any(h in head for h in _SIG_HEADERS)


def is_signed_tag(raw: bytes) -> bool:
    return any(sig in raw for sig in _TAG_SIGNATURES)


def _holding(repo: str | os.PathLike[str], queries: list[tuple[str, str]], deleted: list[str],
             bad_blobs: set[str]) -> set[tuple[str, str]]:
    """The (commit, path) pairs whose tree entry is a deleted path or a bad blob (one cat-file -z)."""
    held: set[tuple[str, str]] = set()
    if not queries:
        return held
    infos = git.objects.check(repo, [f"{c}:{p}" for c, p in queries])
    for (c, p), info in zip(queries, infos, strict=True):
        if info is not None and (matches_path(p, deleted) or info.oid in bad_blobs):
            held.add((c, p))
    return held


def _carriers(repo: str | os.PathLike[str], history: History, rewritten: set[str], all_changes: list[Change],
              deleted: list[str], paths: set[str], bad_blobs: set[str], message_commits: set[str]) -> list[str]:
    """The rewritten commits whose own tree holds a deleted path or a bad blob, or whose message a value.

    One pass in topological order carries the set of purged paths in each tree (a commit outside the
    rewritten set holds none; ``paths``: every path purged content ever lived at): a commit's own
    changes add or drop paths; a merge keeps what all its
    parents hold, and git is asked only about paths some parents hold that the merge's combined diff
    does not show (the merge took one parent's version, which one the diff does not say).
    """
    touched: dict[str, list[tuple[str, bool]]] = {}
    for ch in all_changes:
        if ch.commit in rewritten and ch.path in paths:
            bad = ch.blob != ZERO and (ch.blob in bad_blobs or matches_path(ch.path, deleted))
            touched.setdefault(ch.commit, []).append((ch.path, bad))
    empty: frozenset[str] = frozenset()
    state: dict[str, frozenset[str]] = {}
    for c in history.order:
        if c not in rewritten:
            continue
        held = [state.get(p, empty) for p in history.parents[c]]
        base = held[0] if len(held) == 1 else (frozenset.intersection(*held) if held else empty)
        shown = dict(touched.get(c, ()))
        maybe = (frozenset().union(*held) - base - set(shown)) if len(held) > 1 else empty
        if maybe:
            base = base | {p for _c, p in _holding(repo, [(c, p) for p in sorted(maybe)], deleted, bad_blobs)}
        if shown:
            base = frozenset({p for p in base if p not in shown} | {p for p, bad in shown.items() if bad})
        state[c] = base
    return sorted(c for c, paths in state.items() if paths or c in message_commits)


def _holds_name(path: str, values: list[bytes]) -> bool:
    raw = path.encode("utf-8", "surrogateescape")
    return any(v in raw for v in values)


def _notes_on(repo: str | os.PathLike[str], tip: str) -> set[str]:
    """The object ids a notes commit annotates (its tree's paths, fan-out removed)."""
    entries = git.run(["ls-tree", "-r", "-z", "--full-tree", "--name-only", tip], cwd=repo).stdout.split(b"\0")
    names = {e.replace(b"/", b"").decode("ascii", "replace") for e in entries if e}
    return {n for n in names if _HEX.fullmatch(n)}


def compute(repo: str | os.PathLike[str], tips: dict[str, str], deleted_paths: Iterable[str],
            values: Iterable[bytes], *, all_changes: list[Change] | None = None,
            history: History | None = None, names: Iterable[bytes] = (), cache: Path | None = None,
            keep_log: bool = True, holders: set[str] | None = None) -> BlastRadius:
    """The blast radius of deleting ``deleted_paths`` and replacing ``values`` in the history of ``tips``.

    ``all_changes`` (the git layer's whole-history log of every tip) and ``history`` may be passed when
    the caller already has them; else the log is read from ``cache`` (a purge's workdir) if a stage kept
    it (and kept there unless ``keep_log`` is False: a path holds a value). ``names``: values the rewrite
    renames out of paths, identities and ref names (:mod:`sanitize.names`): a commit whose tree
    has such a path, or whose author, committer or tagger holds one, carries purged content;
    a ref whose name held one (shown redacted in ``tips``) changes even when its commits do not.
    ``holders``: filled with every object whose bytes hold a value.
    """
    name_values = sorted(set(names))
    deleted = sorted(set(deleted_paths))
    peeled = peel_commits(repo, tips.values())
    tip_commits = sorted(set(peeled.values()))
    if history is None:
        history = History.load(repo, tip_commits)
    if all_changes is None:
        all_changes = list(git.log.history_changes(repo, tip_commits, cache=cache, keep=keep_log))
    bad_blobs, message_commits, message_tags = _objects_with_values(repo, list(values), name_values, holders)
    message_commits &= set(history.parents)

    # Commits that bring purged content in (a merge only when its result differs from every parent).
    blob_paths: set[str] = set()
    renamed_paths: set[str] = set()
    seeds = set(message_commits)
    for ch in all_changes:
        if ch.blob == ZERO:
            continue
        if ch.blob in bad_blobs:
            seeds.add(ch.commit)
            blob_paths.add(ch.path)
        elif deleted and matches_path(ch.path, deleted):
            seeds.add(ch.commit)
            blob_paths.add(ch.path)
        elif name_values and _holds_name(ch.path, name_values):
            seeds.add(ch.commit)
            blob_paths.add(ch.path)
            renamed_paths.add(ch.path)
    rewritten = history.descendants_closure(seeds)

    # Notes on a changed commit are re-filed under its new id: the notes ref's tip is re-made.
    notes_refiled: list[str] = []
    extra: set[str] = set()
    for ref in sorted(r for r in tips if r.startswith("refs/notes/")):
        tip = peeled.get(tips[ref])
        if tip and _notes_on(repo, tip) & rewritten:
            notes_refiled.append(ref)
            extra.add(tip)
    changed = rewritten | extra

    per_tip = history.changes_per_tip({r: peeled.get(s, "") for r, s in sorted(tips.items())}, changed)
    refs: dict[str, int] = {}
    first_changed: dict[str, str] = {}
    export: list[str] = []
    for ref, sha in sorted(tips.items()):
        count, first = per_tip[ref]
        tag_message = sha in message_tags
        if count or tag_message or is_shown(ref):
            refs[ref] = count
            if first:
                first_changed[ref] = first
        if tag_message or peeled.get(sha) in rewritten:
            export.append(ref)
    # Not exported: the unchanged parents' history, and the unchanged commit under a tag whose message changes.
    boundary = sorted({p for c in rewritten for p in history.parents[c] if p not in rewritten} |
                      {peeled[tips[r]] for r in export if tips[r] in message_tags and peeled.get(tips[r])
                       and peeled[tips[r]] not in rewritten})
    carriers = _carriers(repo, history, rewritten, all_changes, sorted({*deleted, *renamed_paths}), blob_paths,
                         bad_blobs, message_commits)
    order = [c for c in history.order if c in changed]
    raws = _raw_objects(repo, order)
    signed_commits = sorted(c for c in order if is_signed_commit(raws.get(c, b"")))
    tag_tips = {r: s for r, s in tips.items() if r in refs and peeled.get(s, s) != s}  # annotated tags
    tag_raws = _raw_objects(repo, sorted(set(tag_tips.values())))
    signed_tags = sorted(r for r, s in tag_tips.items() if is_signed_tag(tag_raws.get(s, b"")))
    return BlastRadius(commits_total=len(history.order), refs_total=len(tips), carriers=carriers,
                       changed=sorted(changed), refs=refs, first_changed=first_changed,
                       exported=sorted(rewritten), export_refs=export,
                       boundary=boundary, notes_refiled=notes_refiled, signed_commits=signed_commits,
                       signed_tags=signed_tags)


__all__ = ["BlastRadius", "compute", "describe", "is_signed_commit", "is_signed_tag", "matches_path"]
