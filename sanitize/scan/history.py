"""What history holds and where: the reachable object set, and blob → (first commit, path, refs).

Enumeration uses ``git rev-list --objects --all`` (reachable from every ref —
branches, tags, notes, stash, remote-tracking — never the reflog or unreachable
objects). Resolution runs only for the blobs that have findings: one
``git log --raw`` pass in topological order finds the first commit that
introduced each blob, and one bitset pass over the commit graph tells which
refs reach each of those commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
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
                   cwd=repo, check=False)
    broken = proc.stderr.count(b"ignoring ref with broken name")
    if proc.returncode != 0:
        # git's message quotes the line it refused ("unexpected line in ./packed-refs: …"), which may be
        # the very value the scan looks for: never shown.
        raise UsageError(f"{repo}: git refuses a line of its refs (in packed-refs or a ref file under refs/) and "
                         "cannot list them; git's message is not shown, because it quotes that line. Repair or "
                         "remove the line in the repository, then scan again")
    if broken:
        # git skips such a ref everywhere but fails on it in --all walks; its history cannot be scanned or
        # rewritten. The name is not printed: it may be the very value the scan is looking for.
        raise UsageError(f"{repo}: {broken} ref(s) with a name git refuses (check-ref-format) under refs/ or in "
                         "packed-refs; git ignores them, so their history can be neither scanned nor purged. "
                         "Rename or delete them in the repository (git for-each-ref warns about each), then "
                         "scan again")
    text = proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")
    refs: list[RefInfo] = []
    for line in git.lines(text):
        parts = line.split(" ", 4)
        if len(parts) != 5:
            continue
        obj, typ, peeled, peeled_type, name = parts
        commit = obj if typ == "commit" else (peeled if peeled_type == "commit" else None)
        refs.append(RefInfo(name, obj, commit))
    return refs


def iter_inventory(repo: Path, refs: Iterable[RefInfo], inv: Inventory, chunk_size: int = 4000,
                   revs: Sequence[str] = ALL_REFS, *, trees: bool = False) -> Iterator[list[tuple[str, str]]]:
    """Yield the reachable objects in chunks of ``(oid, path)`` as git lists them, filling ``inv``.

    Blobs come with the first path the walk saw them at. With ``trees`` one walk,
    ``rev-list --objects``, lists everything: every commit first (path ""), then trees and blobs
    (their types are learnt on reading; trees land in ``inv.blobs`` too, which only maps ids to
    paths). Without, two: ``rev-list`` for the commits, then ``rev-list --objects
    --filter=object:type=blob`` for the blobs (its filter drops trees and all commits but the
    tips, which the first walk already has). Streaming lets the reading start before the walk ends.
    """
    refs = list(refs)
    tags = {r.target for r in refs if r.commit != r.target and r.target}
    known: set[str] = set()
    if not trees:
        commits = git.run(["rev-list", *revs], cwd=repo).stdout.decode("ascii").split()
        inv.others.extend(commits)
        known.update(commits)
        for i in range(0, len(commits), chunk_size):
            yield [(c, "") for c in commits[i : i + chunk_size]]
    listing = ["rev-list", "--objects", *(() if trees else ("--filter=object:type=blob",)), *revs]
    proc = git.popen(listing, cwd=repo)
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
            # A commit (the unfiltered walk lists them first), or a blob or tree named directly
            # by a ref: its type is known on read.
            inv.others.append(soid)
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


LOCATE_OPTIONS = git.log.HISTORY  # the whole-history log the scan locates findings in (and keeps for plan)


def locate_spool(repo: Path, revs: Sequence[str] = ALL_REFS) -> git.log.RawSpool:
    """The log :func:`resolve_blobs` reads, to be started early (see :class:`sanitize.git.log.RawSpool`)."""
    return git.log.RawSpool(repo, git.log.HISTORY, revs)


def resolve_blobs(repo: Path, blobs: set[str], revs: Sequence[str] = ALL_REFS,
                  spool: git.log.RawSpool | None = None, *, keep: Path | None = None) -> dict[str, Origin]:
    """First commit and every path for each blob id in ``blobs`` (absent if no commit adds it).

    One ``git log --raw`` over all of history in topological order (parents
    first), streamed in blocks so memory stays flat on large histories;
    hyperscan finds the wanted ids in each block instead of a Python parse of
    every line. Merges are diffed against their first parent, so a blob that
    exists only in a stash's work-tree commit or arrives through a merge is
    still attributed. (Path-limited logs were measured slower on git.git: with
    pathspecs git must diff every merge against every parent.) ``spool``: that
    log, already started by the scan while it was still reading. ``keep``: a file that receives the
    whole log, for plan and rewrite (see :func:`log_copy`).
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
    purpose = "while locating findings"
    blocks = spool.blocks(purpose, keep=keep) if spool is not None else \
        git.log.raw_blocks(repo, git.log.HISTORY, revs, purpose=purpose, keep=keep)
    for block in blocks:
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
    trees = git.lines(git.out(["worktree", "list", "--porcelain"], cwd=repo))
    heads = {*(h.decode("ascii") for h in head), *(line[5:].strip() for line in trees if line.startswith("HEAD "))}
    if not {h for h in heads if h.strip("0")} <= tips:
        return None
    return git.log.cache_file(graph_cache, tips)


def drop_log_copy(repo: Path, refs: list[RefInfo], revs: Sequence[str], graph_cache: Path) -> None:
    """Remove the raw log :func:`log_copy` kept (a path in it holds a secret value: plan walks again)."""
    kept = log_copy(repo, refs, revs, graph_cache)
    if kept is not None:
        kept.unlink(missing_ok=True)


_BITS = bytes.maketrans(b"01", b"\x00\x01")


@dataclass
class RefSets:
    """Which refs reach each target commit, as bitmasks over ``names`` (the ref names, sorted).

    A finding's refs are the union over the commits that bring its blob in: an OR of
    ints, decoded to names once per distinct set (pallets/flask: 777 findings, 3,671 refs).
    """

    names: tuple[str, ...]
    masks: dict[str, int]  # target commit -> bit i set when names[i] reaches it
    _decoded: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def of(self, commits: Iterable[str]) -> tuple[str, ...]:
        """The refs (sorted, one tuple object per distinct set) that reach any of ``commits``."""
        mask = 0
        for c in commits:
            mask |= self.masks.get(c, 0)
        return self.decode(mask)

    def decode(self, mask: int) -> tuple[str, ...]:
        """The names of the bits set in ``mask``, sorted."""
        got = self._decoded.get(mask)
        if got is None:
            # bin() lists the bits high to low: reversed, each "1" selects the name at its position.
            got = self._decoded[mask] = tuple(compress(self.names, bin(mask)[:1:-1].encode("ascii").translate(_BITS)))
        return got


def refs_reaching(repo: Path, refs: list[RefInfo], targets: set[str],
                  revs: Sequence[str] = ALL_REFS, *, graph_cache: Path | None = None,
                  parents: Mapping[str, Sequence[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """For each target commit, the refs whose history contains it (see :func:`ref_sets`)."""
    sets = ref_sets(repo, refs, targets, revs, graph_cache=graph_cache, parents=parents)
    return {c: sets.decode(m) for c, m in sets.masks.items()}


def ref_sets(repo: Path, refs: list[RefInfo], targets: set[str],
             revs: Sequence[str] = ALL_REFS, *, graph_cache: Path | None = None,
             parents: Mapping[str, Sequence[str]] | None = None) -> RefSets:
    """For each target commit, the refs whose history contains it.

    One walk of the commit graph in topological order (parents first) carries a
    bitset of the targets each commit reaches; a ref reaches what its tip does.
    ``parents``: the graph of the walk already read (every commit of ``revs`` → its
    parents, as the scan's workers collect it); else over every ref, the graph is the
    git layer's (kept in ``graph_cache``, a workdir, for plan and rewrite); a range walks
    only what it selects.
    """
    names = tuple(sorted({r.name for r in refs}))
    if not targets:
        return RefSets(names, {})
    order = sorted(targets)
    bit = {c: 1 << i for i, c in enumerate(order)}
    walk: Iterable[tuple[str, Sequence[str]]]
    if parents is not None:
        walk = _topological(parents)
    elif tuple(revs) == ALL_REFS:
        graph = git.graph.load(repo, (r.commit for r in refs if r.commit), cache=graph_cache)
        walk = ((c, graph.parents[c]) for c in graph.order)
    else:
        proc = git.run(["rev-list", "--topo-order", "--reverse", "--parents", *revs], cwd=repo)
        lines = (raw.decode("ascii").split() for raw in proc.stdout.splitlines())
        walk = ((ids[0], ids[1:]) for ids in lines if ids)
    reach: dict[str, int] = {}
    for commit, ups in walk:
        mask = bit.get(commit, 0)
        for parent in ups:
            mask |= reach.get(parent, 0)
        reach[commit] = mask
    # Refs whose tips reach the same targets share one decoding of the mask (thousands of pull
    # request refs reach the same old commits).
    position = {n: i for i, n in enumerate(names)}
    by_mask: dict[int, int] = {}  # targets reached -> the refs (bits over names) whose tips reach them
    for ref in refs:
        mask = reach.get(ref.commit or "", 0)
        if mask:
            by_mask[mask] = by_mask.get(mask, 0) | 1 << position[ref.name]
    result = dict.fromkeys(order, 0)
    for mask, ref_bits in by_mask.items():
        while mask:
            low = mask & -mask
            result[order[low.bit_length() - 1]] |= ref_bits
            mask ^= low
    return RefSets(names, result)


def _topological(parents: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, Sequence[str]]]:
    """(commit, parents) with every commit after its parents (those in ``parents``); iterative DFS."""
    done: set[str] = set()
    for start in parents:
        if start in done:
            continue
        stack = [start]
        while stack:
            commit = stack[-1]
            if commit in done:
                stack.pop()
                continue
            ups = parents[commit]
            pending = [p for p in ups if p in parents and p not in done]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            done.add(commit)
            yield commit, ups


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
