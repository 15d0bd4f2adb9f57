"""What history holds and where: the reachable object set, and blob → (first commit, path, refs).

Enumeration uses ``git rev-list --objects --all`` (reachable from every ref —
branches, tags, notes, stash, remote-tracking — never the reflog or unreachable
objects). Resolution runs only for the blobs that have findings: one
``git log --raw`` pass in topological order finds the first commit that
introduced each blob, and one bitset pass over the commit graph tells which
refs reach each of those commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hyperscan

from sanitize import git
from sanitize.errors import GitError, UsageError


@dataclass(frozen=True)
class RefInfo:
    """A ref, the object it names, and the commit it peels to (None for a tree/blob)."""

    name: str
    target: str
    commit: str | None


@dataclass
class Inventory:
    """Every object to read: blobs with one path each, commits, annotated tags."""

    blobs: list[tuple[str, str]] = field(default_factory=list)  # (oid, path)
    others: list[str] = field(default_factory=list)  # commits and tag objects (types known on read)
    tags: set[str] = field(default_factory=set)  # annotated tag object ids


# What a scan walks: every ref by default; a commit range (``scan --range``, pre-push, the
# pre-receive guard) passes rev-list arguments instead, such as ``("A..B",)`` or ``(new, "--not", "--all")``.
ALL_REFS: tuple[str, ...] = ("--all",)


def list_refs(repo: Path) -> list[RefInfo]:
    """Every ref with its peeled commit (annotated tags peel to what they tag)."""
    proc = git.run(["for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)"],
                   cwd=repo)
    broken = proc.stderr.count(b"ignoring ref with broken name")
    if broken:
        # git skips such a ref everywhere but fails on it in --all walks; its history cannot be scanned or
        # rewritten. The name is not printed: it may be the very value the scan is looking for.
        raise UsageError(f"{repo}: {broken} ref(s) with a name git refuses (check-ref-format) under refs/ or in "
                         "packed-refs; git ignores them, so their history can be neither scanned nor purged. "
                         "Rename or delete them in the repository (git for-each-ref warns about each), then "
                         "scan again")
    text = proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")
    refs: list[RefInfo] = []
    for line in text.splitlines():
        parts = line.split(" ", 4)
        if len(parts) != 5:
            continue
        obj, typ, peeled, peeled_type, name = parts
        commit = obj if typ == "commit" else (peeled if peeled_type == "commit" else None)
        refs.append(RefInfo(name, obj, commit))
    return refs


def iter_inventory(repo: Path, refs: Iterable[RefInfo], inv: Inventory,
                   chunk_size: int = 4000, revs: Sequence[str] = ALL_REFS) -> Iterator[list[tuple[str, str]]]:
    """Yield the reachable objects in chunks of ``(oid, path)`` as git lists them, filling ``inv``.

    Two walks: ``rev-list --all`` for every commit (path ""), then ``rev-list
    --objects --filter=object:type=blob`` for blobs with the first path the walk
    saw them at (its filter drops trees and all commits but the tips, which the
    first walk already has). Streaming lets the reading start before the walk ends.
    """
    refs = list(refs)
    tags = {r.target for r in refs if r.commit != r.target and r.target}
    commits = git.run(["rev-list", *revs], cwd=repo).stdout.decode("ascii").split()
    inv.others.extend(commits)
    known = set(commits)
    for i in range(0, len(commits), chunk_size):
        yield [(c, "") for c in commits[i : i + chunk_size]]
    proc = git.popen(["rev-list", "--objects", "--filter=object:type=blob", *revs], cwd=repo)
    assert proc.stdout is not None
    chunk: list[tuple[str, str]] = []
    for raw in proc.stdout:
        oid, sep, path = raw.rstrip(b"\n").partition(b" ")
        soid = oid.decode("ascii")
        if soid in known:
            continue
        if soid in tags:
            inv.others.append(soid)
            inv.tags.add(soid)
            chunk.append((soid, ""))
        elif not sep:
            inv.others.append(soid)  # a blob or tree named directly by a ref: its type is known on read
            chunk.append((soid, ""))
        else:
            item = (soid, path.decode("utf-8", "surrogateescape"))
            inv.blobs.append(item)
            chunk.append(item)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
    git.finish(proc, "git rev-list failed")


def inventory(repo: Path, refs: Iterable[RefInfo]) -> Inventory:
    """Every reachable object at once (see :func:`iter_inventory`)."""
    inv = Inventory()
    for _ in iter_inventory(repo, refs, inv):
        pass
    return inv


@dataclass(frozen=True)
class Origin:
    """Where a blob entered history: the first commit (topological order) and its path there."""

    commit: str
    path: str
    commits: tuple[str, ...]  # every commit whose diff brings the blob in (for refs)
    paths: tuple[tuple[str, str], ...] = ()  # every path it had → the first commit it had it at


_NEW_SIDE_STATUS = (b"A", b"C", b"M", b"R", b"T", b"U", b"X")


def resolve_blobs(repo: Path, blobs: set[str], revs: Sequence[str] = ALL_REFS, *,
                  keep: Path | None = None) -> dict[str, Origin]:
    """First commit and every path for each blob id in ``blobs`` (absent if no commit adds it).

    One ``git log --raw`` over all of history in topological order (parents
    first), streamed in blocks so memory stays flat on large histories;
    hyperscan finds the wanted ids in each block instead of a Python parse of
    every line. Merges are diffed against their first parent, so a blob that
    exists only in a stash's work-tree commit or arrives through a merge is
    still attributed. (Path-limited logs were measured slower on git.git: with
    pathspecs git must diff every merge against every parent.)
    ``keep``: a file that receives the whole log, for plan and rewrite (see :func:`log_copy`).
    """
    if not blobs:
        return {}
    wanted = sorted(blobs)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[f" {b} ".encode("ascii") for b in wanted], ids=list(range(len(wanted))),
               elements=len(wanted), flags=[0] * len(wanted))
    first: dict[str, tuple[str, str]] = {}
    every: dict[str, list[str]] = {}
    at: dict[str, dict[str, str]] = {}
    for block in git.log.raw_blocks(repo, git.log.HISTORY, revs, purpose="while locating findings", keep=keep):
        positions: list[tuple[int, int]] = []

        def on_match(index: int, _start: int, end: int, _flags: int, _ctx: object,
                     positions: list[tuple[int, int]] = positions) -> None:
            positions.append((end, index))

        db.scan(block, match_event_handler=on_match)
        # In "-z --raw" output a new-side id is followed by " <status>\0<path>\0"; an old-side id by " <id>".
        for end, index in sorted(positions):
            if block[end : end + 1] not in _NEW_SIDE_STATUS:
                continue
            _mark, commit = git.log.commit_before(block, end)  # a path holding the marker byte is not a commit
            start = block.index(b"\0", end) + 1
            path = block[start : block.index(b"\0", start)].decode("utf-8", "surrogateescape")
            blob = wanted[index]
            if blob not in first:
                first[blob] = (commit, path)
                every[blob] = []
                at[blob] = {}
            if not every[blob] or every[blob][-1] != commit:
                every[blob].append(commit)
            at[blob].setdefault(path, commit)
    return {b: Origin(c, p, tuple(every[b]), tuple(at[b].items())) for b, (c, p) in first.items()}


def log_copy(repo: Path, refs: list[RefInfo], revs: Sequence[str], graph_cache: Path | None) -> Path | None:
    """Where the scan keeps its raw log of every ref for plan and rewrite (the git layer's copy of the
    refs' tip commits), or None: no workdir, a range, or a detached HEAD that ``--all`` walks beyond the refs."""
    if graph_cache is None or tuple(revs) != ALL_REFS:
        return None
    tips = {r.commit for r in refs if r.commit}
    # ``--all`` also walks HEAD and the HEAD of every linked work tree: the copy is the refs' log only if
    # each of those is a ref's tip too (or unborn).
    head = git.run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=repo, check=False).stdout.split()
    trees = git.out(["worktree", "list", "--porcelain"], cwd=repo).splitlines()
    heads = {*(h.decode("ascii") for h in head), *(line[5:].strip() for line in trees if line.startswith("HEAD "))}
    if not {h for h in heads if h.strip("0")} <= tips:
        return None
    return git.log.cache_file(graph_cache, tips)


def drop_log_copy(repo: Path, refs: list[RefInfo], revs: Sequence[str], graph_cache: Path) -> None:
    """Remove the raw log :func:`log_copy` kept (a path in it holds a secret value: plan walks again)."""
    kept = log_copy(repo, refs, revs, graph_cache)
    if kept is not None:
        kept.unlink(missing_ok=True)


def refs_reaching(repo: Path, refs: list[RefInfo], targets: set[str],
                  revs: Sequence[str] = ALL_REFS, *, graph_cache: Path | None = None) -> dict[str, tuple[str, ...]]:
    """For each target commit, the refs whose history contains it.

    One walk of the commit graph in topological order (parents first) carries a
    bitset of the targets each commit reaches; a ref reaches what its tip does.
    Over every ref, the graph is the git layer's (kept in ``graph_cache``, a
    workdir, for plan and rewrite); a range walks only what it selects.
    """
    if not targets:
        return {}
    order = sorted(targets)
    bit = {c: 1 << i for i, c in enumerate(order)}
    walk: Iterable[tuple[str, Sequence[str]]]
    if tuple(revs) == ALL_REFS:
        graph = git.graph.load(repo, (r.commit for r in refs if r.commit), cache=graph_cache)
        walk = ((c, graph.parents[c]) for c in graph.order)
    else:
        proc = git.run(["rev-list", "--topo-order", "--reverse", "--parents", *revs], cwd=repo)
        lines = (raw.decode("ascii").split() for raw in proc.stdout.splitlines())
        walk = ((ids[0], ids[1:]) for ids in lines if ids)
    reach: dict[str, int] = {}
    for commit, parents in walk:
        mask = bit.get(commit, 0)
        for parent in parents:
            mask |= reach.get(parent, 0)
        reach[commit] = mask
    result: dict[str, list[str]] = {c: [] for c in order}
    for ref in refs:
        mask = reach.get(ref.commit or "", 0)
        if not mask:
            continue
        for i, c in enumerate(order):
            if mask >> i & 1:
                result[c].append(ref.name)
    return {c: tuple(sorted(names)) for c, names in result.items()}


def refs_naming(refs: list[RefInfo], obj: str) -> tuple[str, ...]:
    """Refs that point straight at ``obj`` (an annotated tag object)."""
    return tuple(sorted(r.name for r in refs if r.target == obj))


def mirror_clone(url: str | git.Location, dest: Path) -> Path:
    """``git clone --mirror URL DEST`` (only what a client can fetch); returns DEST."""
    proc = git.run(["clone", "--mirror", "--quiet", "--", url, str(dest)], check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = next((ln for ln in lines if ln.startswith("fatal:")), lines[-1] if lines else "git clone failed")
        reason = git.redact_url(reason)  # never echo URL credentials
        raise GitError(f"cannot clone the source URL: {reason}")
    return dest
