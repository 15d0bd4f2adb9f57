"""Collaborator side: carry unpushed local commits from the old history onto the rewritten one.

Run inside an existing clone after ``git fetch`` has brought the rewritten
history. For each local branch still on old history, the published
commit-map (old → new commit ids, git-filter-repo's format) gives the new
base of the branch's unpushed commits; ``git rebase --onto <new base> <old
base> <branch>`` moves them, after a backup ref
``refs/sanitize-backup/<branch>`` records the old tip. A branch without local
work simply moves to its rewritten tip.

Before anything moves, every branch's local commits are checked against the
published purge list (``purged.json``: removed paths, blob ids and the SHA-256
of removed values): local work that re-adds any of them is refused (exit 2)
and nothing moves. Merges of old history into new are refused too.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

from sanitize import git
from sanitize.collaborator.local_names import LocalNames, NameValue
from sanitize.errors import GitError, UsageError, VerificationFailed
from sanitize.printable import printable
from sanitize.secret import sha256_hex
from sanitize.shellquote import quote

BACKUP_PREFIX = "refs/sanitize-backup/"
_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# Candidate values in an added line, at three granularities: a removed value may
# itself contain '/', '+', '=' or '@' (base64 keys, passwords), or sit inside a DSN.
_SPLITS = (re.compile(r"[\s\"'`]+"), re.compile(r"[\s\"'`=:,;()\[\]{}<>|&]+"),
           re.compile(r"[\s\"'`=:,;@/()\[\]{}<>|&?#\\]+"))


@dataclass(frozen=True)
class Purged:
    """What the purge removed, as published for collaborators (no values, only hashes)."""

    paths: frozenset[str] = frozenset()
    blobs: frozenset[str] = frozenset()
    secret_sha256: frozenset[str] = frozenset()
    names: tuple[NameValue, ...] = ()  # values that were part of a ref name: local names holding one are renamed


@dataclass(frozen=True)
class BranchMove:
    """One branch carried over: from ``old_tip`` to ``new_tip``, ``commits`` local commits rebased."""

    branch: str
    old_tip: str
    new_tip: str
    old_base: str
    new_base: str
    commits: int
    backup_ref: str


def _read_source(source: str) -> bytes:
    if source.startswith(("http://", "https://", "file://")):
        try:
            with urllib.request.urlopen(source, timeout=30) as resp:  # noqa: S310 - scheme checked above
                return bytes(resp.read())
        except OSError as exc:
            raise UsageError(f"{source}: cannot download ({type(exc).__name__})") from exc
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read ({exc.strerror or type(exc).__name__})") from exc


def load_commit_map(source: str) -> dict[str, str]:
    """git-filter-repo's commit-map (``old new`` per line after a header); UsageError if malformed.

    A commit the map does not list was not changed by the rewrite (notify publishes only the changed ones).
    """
    result: dict[str, str] = {}
    header = False  # a map with only its header is valid: the rewrite changed no commit
    for n, line in enumerate(_read_source(source).decode("utf-8", "replace").splitlines(), 1):
        parts = line.split()
        if parts == ["old", "new"]:
            header = True
            continue
        if not parts:
            continue
        if len(parts) != 2 or not (_OID.match(parts[0]) and _OID.match(parts[1])):
            raise UsageError(f"{source}:{n}: not a commit-map line (expected 'old-id new-id')")
        result[parts[0]] = parts[1]
    if not result and not header:
        raise UsageError(f"{source}: empty commit-map")
    return result


def load_purged(source: str) -> Purged:
    """The published ``purged.json`` (paths, blobs, secret_sha256); UsageError if malformed."""
    try:
        data = json.loads(_read_source(source))
        return Purged(paths=frozenset(map(str, data.get("paths") or [])),
                      blobs=frozenset(map(str, data.get("blobs") or [])),
                      secret_sha256=frozenset(map(str, data.get("secret_sha256") or [])),
                      names=tuple(NameValue.load(n) for n in data.get("names") or []))
    except (ValueError, AttributeError, TypeError, KeyError) as exc:
        raise UsageError(f"{source}: not a purged.json from git-sanitize notify") from exc


def candidate_hashes(line: str) -> set[str]:
    """SHA-256 of every plausible value in one line of text."""
    pieces: set[str] = set()
    for split in _SPLITS:
        pieces.update(p for p in split.split(line) if len(p) >= 4)
    pieces.update(p.rstrip(".,;") for p in list(pieces))
    return {sha256_hex(p) for p in pieces}


def _zero(oid: str) -> bool:
    return set(oid) == {"0"}


def _new_base(old: str, cmap: dict[str, str], repo: Path) -> str:
    """The rewritten counterpart of ``old``; for a commit filter-repo dropped, its nearest kept ancestor's.

    A commit the map does not list was not rewritten (a rewrite restricted to the affected commits leaves
    their ancestors alone): it is its own counterpart."""
    for sha in git.out(["rev-list", "--first-parent", old], cwd=repo).splitlines():
        new = cmap.get(sha, sha)
        if not _zero(new):
            return new
    raise UsageError(f"no rewritten counterpart for {old[:12]} in the commit-map")


def _diff_contamination(repo: Path, old: str, new: str, purged: Purged) -> str | None:
    """What the change ``old`` → ``new`` (two commits or trees) brings back, naming the file; or None."""
    names = git.out(["diff", "--name-only", "-z", "--no-renames", "--diff-filter=AMRC", old, new],
                    cwd=repo).split("\x00")
    hit = sorted(n for n in names if n and n in purged.paths)
    if hit:
        return f"re-adds the removed file {hit[0]}"
    if purged.blobs:
        listing = git.out(["diff", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=AMRC", old, new],
                          cwd=repo).split("\x00")
        for meta, path in zip(listing[::2], listing[1::2], strict=False):
            fields = meta.split()
            if len(fields) >= 4 and fields[3] in purged.blobs:
                return f"re-adds the exact content of a removed file as {path}"
    if purged.secret_sha256:
        current = "?"
        text = git.out(["-c", "core.quotePath=false", "diff", "-p", "--no-color", "--no-renames", old, new],
                       cwd=repo)
        for line in git.lines(text):
            if line.startswith("+++ "):
                current = line[6:] if line.startswith("+++ b/") else line[4:]
            elif line.startswith("+") and candidate_hashes(line[1:]) & purged.secret_sha256:
                return f"re-adds a value the purge removed, in {current}"
    return None


def _commit_contamination(repo: Path, commit: str, purged: Purged) -> str | None:
    """Why one local commit re-adds purged content (its change or its message), or None."""
    parents = git.out(["rev-list", "--parents", "-n1", commit], cwd=repo).split()[1:]
    why = _diff_contamination(repo, parents[0] if parents else EMPTY_TREE, commit, purged)
    if why is None and purged.secret_sha256:
        message = git.out(["log", "-1", "--format=%B", commit], cwd=repo)
        if any(candidate_hashes(line) & purged.secret_sha256 for line in message.splitlines()):
            why = "re-adds a value the purge removed, in its commit message"
    return why


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
JOURNAL = "sanitize-migrate.json"


def _subject(repo: Path, commit: str) -> str:
    return git.out(["log", "-1", "--format=%s", commit], cwd=repo)[:60]


@dataclass
class _Branch:
    name: str
    tip: str
    local: list[str]          # local commits of this branch not carried by another branch, oldest first
    base: str                 # the one commit those sit on (old history, or another branch's local commit)


@dataclass(frozen=True)
class StashMove:
    """One stash entry (or the uncommitted changes, ``dirty``) re-based onto the rewritten history."""

    index: int
    old: str
    new: str
    message: str
    dirty: bool = False


@dataclass(frozen=True)
class TagMove:
    """A local tag re-pointed at the rewritten counterpart of its commit."""

    tag: str
    old: str
    new: str
    backup_ref: str


@dataclass(frozen=True)
class Migration:
    """Everything ``migrate`` moved (also kept in the clone's git dir for ``--finish``)."""

    branches: list[BranchMove]
    tags: list[TagMove]
    stashes: list[StashMove]
    skipped: dict[str, str]
    checked_purged: bool
    restored_dirty: bool = True
    renamed: dict[str, str] = field(default_factory=dict)  # local ref whose name held a value (shown) → new name

    @property
    def moved(self) -> list[BranchMove]:
        """The branches moved (the name earlier callers used)."""
        return self.branches


class _Clone:
    """The collaborator's clone, with the commit-map and purge list it is migrated by."""

    def __init__(self, repo: str | os.PathLike[str], cmap: dict[str, str], purged: Purged | None) -> None:
        self.root = git.git_dir(repo)
        self.work = git.work_tree_of(repo) or Path(repo)
        self.cmap = cmap
        self.purged = purged
        self.changed = {o for o, n in cmap.items() if o != n}
        self.values = {n for o, n in cmap.items() if o != n and not _zero(n)}
        self.names = LocalNames(purged.names if purged is not None else ())

    def show(self, name: str) -> str:
        """A local name fit for output: a published value in it shown redacted, on one line (escaped)."""
        return printable(self.names.show(name))

    def out(self, *args: str, **kw: object) -> str:
        return git.out(list(args), cwd=self.work, **kw)

    def run(self, *args: str, check: bool = True, **kw: object) -> int:
        return git.run(list(args), cwd=self.work, check=check, **kw).returncode  # type: ignore[arg-type]

    def published(self) -> list[str]:
        """Tips of the remote-tracking refs: their history is not local work."""
        return self.out("for-each-ref", "--format=%(objectname)", "refs/remotes/").split()

    def refuse(self, what: str, commit: str, why: str) -> UsageError:
        return UsageError(f"{self.show(what)}: commit {commit[:12]} ({_subject(self.work, commit)!r}) {why}; "
                          f"remove it from that commit (git rebase -i {commit[:12]}^), then run migrate again. "
                          "Nothing was moved")


def _plan_branches(c: _Clone) -> tuple[list[_Branch], dict[str, str]]:
    """Branches to move, stacked ones after the branch they sit on; and the branches left alone."""
    published = c.published()
    found: list[tuple[str, str, list[str], dict[str, list[str]]]] = []
    skipped: dict[str, str] = {}
    for name in git.lines(c.out("for-each-ref", "--format=%(refname:short)", "refs/heads/")):
        tip = c.out("rev-parse", f"refs/heads/{name}^{{commit}}")
        history = git.lines(c.out("rev-list", "--parents", "--topo-order", "--reverse", tip))
        parents = {line.split()[0]: line.split()[1:] for line in history}
        if not c.changed & parents.keys():
            skipped[name] = "not on the old history"
            continue
        if c.values & parents.keys():
            raise UsageError(f"branch {c.show(name)} merges old history into rewritten history; rebase it by hand "
                             "(never merge old history), nothing was moved")
        unpublished = set(c.out("rev-list", tip, "--not", *published).split()) if published else set(parents)
        old = _old_history(parents, c.changed)
        local = [x for x in parents if x in unpublished and x not in c.cmap and x not in old]
        found.append((name, tip, local, parents))
    found.sort(key=lambda f: len(f[2]))
    plans: list[_Branch] = []
    carried: set[str] = set()
    for name, tip, local, parents in found:
        mine = [x for x in local if x not in carried]
        if not mine:
            plans.append(_Branch(name, tip, [], tip))
            continue
        boundary = {p for x in mine for p in parents[x] if p not in mine}
        if len(boundary) != 1:
            raise UsageError(f"branch {c.show(name)}: local work sits on {len(boundary)} commits (a merge); rebase "
                             "it by hand onto the rewritten history (git rebase --onto), nothing was moved")
        if c.purged is not None:
            for commit in mine:
                why = _commit_contamination(c.work, commit, c.purged)
                if why:
                    raise c.refuse(f"branch {name}", commit, why)
        plans.append(_Branch(name, tip, mine, boundary.pop()))
        carried.update(mine)
    return plans, skipped


def _old_history(parents: dict[str, list[str]], changed: set[str]) -> set[str]:
    """The changed commits of one branch's history and all their ancestors: the old history it holds.

    The published map lists only the commits the rewrite changed; an unchanged ancestor of one of them
    was on the old remote as well, even where no fetched branch holds it now (a pull-request ref, a
    deleted branch), so it is not local work.
    """
    seen: set[str] = set()
    todo = [x for x in parents if x in changed]
    while todo:
        x = todo.pop()
        if x in seen:
            continue
        seen.add(x)
        todo.extend(p for p in parents.get(x, ()) if p not in seen)
    return seen


def _stash_entries(c: _Clone) -> list[tuple[str, str]]:
    """(commit, message) of every stash entry, stash@{0} first."""
    if c.run("rev-parse", "-q", "--verify", "refs/stash", check=False) != 0:
        return []
    lines = git.lines(c.out("log", "-g", "--format=%H%x00%gs", "refs/stash"))
    return [(h, m) for h, _, m in (line.partition("\x00") for line in lines)]


def _check_stash(c: _Clone, what: str, stash: str) -> None:
    """Refuse a stash (or the uncommitted changes) that re-adds purged content."""
    if c.purged is None:
        return
    parents = c.out("rev-list", "--parents", "-n1", stash).split()[1:]
    base = parents[0]
    targets = [stash] + ([parents[1]] if len(parents) > 1 else [])
    for target in targets:
        why = _diff_contamination(c.work, base, target, c.purged)
        if why:
            raise UsageError(f"{what} {why}; take that change out (or copy the file out of the repository), then "
                             "run migrate again. Nothing was moved")
    if len(parents) > 2:  # untracked files, a root commit
        why = _diff_contamination(c.work, EMPTY_TREE, parents[2], c.purged)
        if why:
            raise UsageError(f"{what}: its untracked files {why.removeprefix('re-adds ')}; nothing was moved")


def _rebase_stash(c: _Clone, stash: str, new_head: str) -> str:
    """The same stash (index and work-tree changes, untracked files) on top of ``new_head``."""
    parents = c.out("rev-list", "--parents", "-n1", stash).split()[1:]
    head, index = parents[0], parents[1]

    def carry(change_to: str, onto_tree: str, tmp_index: Path) -> str:
        env = {"GIT_INDEX_FILE": str(tmp_index)}
        git.run(["read-tree", onto_tree], cwd=c.work, env=env)
        diff = git.run(["diff", "--binary", "--full-index", "--no-renames", head, change_to], cwd=c.work).stdout
        if diff:
            proc = git.run(["apply", "--cached", "--3way"], cwd=c.work, env=env, input=diff, check=False)
            if proc.returncode != 0:
                raise UsageError(f"stash {stash[:12]} does not apply to the rewritten history; nothing was moved. "
                                 "Apply it by hand (git stash show -p) after migrating without it")
        return git.out(["write-tree"], cwd=c.work, env=env)

    scratch = c.root / "sanitize-migrate.index"
    try:
        index_tree = carry(index, f"{new_head}^{{tree}}", scratch)
        work_tree = carry(stash, f"{new_head}^{{tree}}", scratch)
    finally:
        scratch.unlink(missing_ok=True)
    ident = _identity(c, stash)
    msg_i = c.out("log", "-1", "--format=%B", index)
    new_index = c.out("commit-tree", index_tree, "-p", new_head, "-m", c.names.rename(msg_i) or "index", env=ident)
    extra = ["-p", _untracked(c, parents[2])] if len(parents) > 2 else []
    msg_w = c.out("log", "-1", "--format=%B", stash)
    return c.out("commit-tree", work_tree, "-p", new_head, "-p", new_index, *extra, "-m",
                 c.names.rename(msg_w) or "stash", env=ident)


def _untracked(c: _Clone, commit: str) -> str:
    """A stash's untracked-files commit (a root commit): kept, unless its message ("untracked files on
    <branch>: …") names a branch that held a value; then the same tree under the renamed message."""
    msg = c.out("log", "-1", "--format=%B", commit)
    if not c.names.holds(msg):
        return commit
    return c.out("commit-tree", f"{commit}^{{tree}}", "-m", c.names.rename(msg), env=_identity(c, commit))


def _identity(c: _Clone, commit: str) -> dict[str, str]:
    fields = c.out("log", "-1", "--format=%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI", commit).split("\x00")
    keys = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
            "GIT_COMMITTER_DATE")
    return dict(zip(keys, fields, strict=False))


def _counterpart(c: _Clone, old: str, local_map: dict[str, str]) -> str:
    return local_map.get(old) or _new_base(old, c.cmap, c.work)


def migrate(repo: str | os.PathLike[str] = ".", *, commit_map: str, purged: str | None = None) -> Migration:
    """Move every local branch, local tag and stash on old history onto the rewritten history.

    Unpushed commits are rebased (stacked branches stay stacked), uncommitted
    changes are carried and put back, every old tip is kept under
    ``refs/sanitize-backup/`` until ``finish``. UsageError (exit 2), with nothing
    moved, when the rewritten history has not been fetched, a rebase is in
    progress, or local work re-adds purged content (the message names the
    commit and the file).
    """
    cmap = load_commit_map(commit_map)
    purge_list = load_purged(purged) if purged else _sibling_purged(commit_map)
    c = _Clone(repo, cmap, purge_list)
    if c.run("rev-parse", "-q", "--verify", "REBASE_HEAD", check=False) == 0 or (c.root / "rebase-merge").exists():
        raise UsageError("a rebase is in progress: finish or abort it first (nothing was moved)")
    plans, skipped = _plan_branches(c)
    if any(p.local for p in plans) and c.run("var", "GIT_COMMITTER_IDENT", check=False) != 0:
        raise UsageError("git does not know who you are in this clone, and rebasing your unpushed commits "
                         "records you as their committer: git config user.name '<your name>' && git config "
                         "user.email '<your email>', then run migrate again (nothing was moved)")
    for p in plans:
        if p.local and p.base not in {x for q in plans for x in q.local}:
            new_base = _new_base(p.base, cmap, c.work)
            if c.run("cat-file", "-e", f"{new_base}^{{commit}}", check=False) != 0:
                raise UsageError(f"the rewritten history is not here ({new_base[:12]} missing): run "
                                 "git fetch origin first (nothing was moved)")
    head = c.out("symbolic-ref", "-q", "--short", "HEAD", check=False)
    head_sha = c.out("rev-parse", "-q", "--verify", "HEAD", check=False)
    moving = c.changed | {x for p in plans for x in p.local} | {p.tip for p in plans}
    stashes = _stash_entries(c)
    for n, (sha, _msg) in enumerate(stashes):
        if c.out("rev-parse", f"{sha}^1") in moving:
            _check_stash(c, f"stash@{{{n}}}", sha)
    # The work tree only has to be set aside when branches move (or HEAD itself is on old history).
    dirty = ""
    if plans or head_sha in moving:
        dirty = c.out("stash", "create", f"git-sanitize migrate: uncommitted changes on {head or 'HEAD'}")
    if dirty:
        _check_stash(c, "your uncommitted changes", dirty)
    tags = _plan_tags(c)
    renames = _planned_renames(c)

    moved: list[BranchMove] = []
    local_map: dict[str, str] = {}
    backups: list[tuple[str, str | None]] = []   # (ref, value before) to put back on failure
    if dirty:
        c.run("update-ref", BACKUP_PREFIX + "uncommitted", dirty)
        c.run("reset", "--hard", "--quiet")
    if plans and head_sha:
        # Detached while branches move, so the checkout at the end brings the work tree along.
        c.run("checkout", "--quiet", "--detach")
    try:
        for p in plans:
            backup = _free_backup_ref(c.work, BACKUP_PREFIX + "heads/" + c.names.rename(p.name))
            c.run("update-ref", backup, p.tip)
            backups.append((f"refs/heads/{p.name}", p.tip))
            if not p.local:
                new_tip = _counterpart(c, p.tip, local_map)
                c.run("update-ref", f"refs/heads/{p.name}", new_tip, p.tip)
                moved.append(BranchMove(p.name, p.tip, new_tip, p.tip, new_tip, 0, backup))
                continue
            new_base = _counterpart(c, p.base, local_map)
            rebase = git.run(["rebase", "--quiet", "--empty=keep", "--keep-empty", "--onto", new_base, p.base,
                              p.name], cwd=c.work, check=False)
            if rebase.returncode != 0:
                conflict = bool(c.out("diff", "--name-only", "--diff-filter=U", check=False))
                c.run("rebase", "--abort", check=False)
                why = "stopped on a conflict" if conflict else \
                    f"failed ({c.show(git.reason(rebase.stderr, rebase.returncode))})"
                raise UsageError(f"branch {c.show(p.name)}: the rebase {why}; every branch was put back (nothing "
                                 f"was moved). Rebase it by hand: git rebase --onto {new_base[:12]} "
                                 f"{p.base[:12]} {quote(c.names.show(p.name))}")
            new_tip = c.out("rev-parse", f"refs/heads/{p.name}")
            rebased = c.out("rev-list", "--reverse", "--topo-order", new_tip, "--not", new_base).split()
            if len(rebased) == len(p.local):
                local_map.update(zip(p.local, rebased, strict=True))
            local_map[p.tip] = new_tip
            moved.append(BranchMove(p.name, p.tip, new_tip, p.base, new_base, len(p.local), backup))
        stash_moves = _move_stashes(c, stashes, dirty, local_map)
        tag_moves = _move_tags(c, tags, local_map, skipped)
        retagged = _rename(c, renames)
        _repoint_remote_heads(c)
    except (UsageError, GitError):
        for ref, value in backups:
            c.run("update-ref", ref, value or "", check=False)
        _return_to(c.work, head or head_sha, force=True)
        if dirty:
            c.run("stash", "apply", "--index", dirty, check=False)
            c.run("update-ref", "-d", BACKUP_PREFIX + "uncommitted", check=False)
        raise
    head = renames.get(f"refs/heads/{head}", f"refs/heads/{head}").removeprefix("refs/heads/") if head else head
    moved = [replace(m, branch=c.names.rename(m.branch)) for m in moved]
    tag_moves = [replace(t, tag=c.names.rename(t.tag), new=retagged.get(f"refs/tags/{c.names.rename(t.tag)}", t.new))
                 for t in tag_moves]
    skipped = {c.show(k): v for k, v in skipped.items()}
    _return_to(c.work, head or (_counterpart(c, head_sha, local_map) if head_sha in local_map or head_sha in c.changed
                                else head_sha), force=False)
    restored = True
    dirty_move = next((s for s in stash_moves if s.dirty), None)
    if dirty_move is not None:
        restored = c.run("stash", "apply", "--index", dirty_move.new, check=False) == 0
        if not restored:
            c.run("reset", "--hard", "--quiet")
            c.run("stash", "store", "-m", dirty_move.message, dirty_move.new)
    result = Migration(moved, tag_moves, stash_moves, skipped, purge_list is not None, restored,
                       {c.show(r): new for r, new in sorted(renames.items())})
    _write_journal(c, result)
    return result


def _plan_tags(c: _Clone) -> list[tuple[str, str, str, str]]:
    """(tag ref, tag object, object type, commit) for every local tag on a commit."""
    fmt = "%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)"
    found = []
    for line in git.lines(c.out("for-each-ref", f"--format={fmt}", "refs/tags/")):
        ref, obj, kind, peeled = line.split("\x00")
        commit = peeled if kind == "tag" else obj
        if commit:
            found.append((ref, obj, kind, commit))
    return found


def _move_tags(c: _Clone, tags: list[tuple[str, str, str, str]], local_map: dict[str, str],
               skipped: dict[str, str]) -> list[TagMove]:
    moves = []
    for ref, obj, kind, commit in tags:
        if commit in local_map:
            new_commit = local_map[commit]
        elif commit in c.changed:
            new_commit = _new_base(commit, c.cmap, c.work)
        else:
            continue
        if c.run("cat-file", "-e", f"{new_commit}^{{commit}}", check=False) != 0:
            skipped[ref] = (f"its rewritten commit {new_commit[:12]} is not fetched: git fetch origin --force "
                            "'+refs/tags/*:refs/tags/*', then run migrate again")
            continue
        if kind == "tag":
            body = git.run(["cat-file", "tag", obj], cwd=c.work).stdout
            _, _, rest = body.partition(b"\n")
            text = b"object " + new_commit.encode() + b"\n" + rest
            for marker in (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SSH SIGNATURE-----"):
                text = text.split(marker, 1)[0]  # the signature covered the old object: it cannot survive
            new = git.out(["mktag"], cwd=c.work, input=text)
        else:
            new = new_commit
        backup = _free_backup_ref(c.work, BACKUP_PREFIX + "tags/" + c.names.rename(ref.removeprefix("refs/tags/")))
        c.run("update-ref", backup, obj)
        c.run("update-ref", ref, new, obj)
        moves.append(TagMove(ref.removeprefix("refs/tags/"), obj, new, backup))
    return moves


def _move_stashes(c: _Clone, stashes: list[tuple[str, str]], dirty: str,
                  local_map: dict[str, str]) -> list[StashMove]:
    """Re-base every stash entry on old history (and the uncommitted changes) onto the rewritten history."""
    def on_old(commit: str) -> bool:
        return commit in local_map or commit in c.changed

    moves: list[StashMove] = []
    rebuilt: list[tuple[str, str]] = []
    changed = False
    for n, (sha, msg) in enumerate(stashes):
        base = c.out("rev-parse", f"{sha}^1")
        # An entry made on a branch named with a value says so in its messages ("WIP on <branch>: …"):
        # it is rebuilt on its own base with the new name in them.
        if on_old(base) or c.names.holds(msg) or c.names.holds(c.out("log", "-1", "--format=%B", sha)):
            new = _rebase_stash(c, sha, _counterpart(c, base, local_map))
            moves.append(StashMove(n, sha, new, c.show(msg)))
            c.run("update-ref", f"{BACKUP_PREFIX}stash/{n}", sha)
            rebuilt.append((new, c.names.rename(msg)))
            changed = True
        else:
            rebuilt.append((sha, msg))
    if changed:
        c.run("update-ref", "-d", "refs/stash")
        for sha, msg in reversed(rebuilt):
            c.run("stash", "store", "-m", msg, sha)
    if dirty:
        base = c.out("rev-parse", f"{dirty}^1")
        new = _rebase_stash(c, dirty, _counterpart(c, base, local_map)) if on_old(base) else dirty
        moves.append(StashMove(-1, dirty, new, c.show(c.out("log", "-1", "--format=%s", dirty)), dirty=True))
    return moves


def _write_journal(c: _Clone, m: Migration) -> None:
    """What was moved, kept in the git dir so ``finish`` can check it is all still there."""
    path = c.root / JOURNAL
    old: dict[str, object] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
    doc = {
        "branches": {**dict(old.get("branches") or {}), **{b.branch: b.new_tip for b in m.branches}},  # type: ignore[call-overload]
        "tags": {**dict(old.get("tags") or {}), **{t.tag: t.new for t in m.tags}},  # type: ignore[call-overload]
        "stashes": sorted({*list(old.get("stashes") or []), *(s.new for s in m.stashes if not s.dirty)}),  # type: ignore[call-overload]
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class FinishResult:
    """Backups deleted after every migrated ref was found in place, and the self-check's count."""

    backups_deleted: int
    old_commits_checked: int


def finish(repo: str | os.PathLike[str] = ".", *, commit_map: str) -> FinishResult:
    """Delete the backups and the old objects, but only once the migrated work is safe.

    Refuses (UsageError, nothing deleted) while a migrated branch, tag or stash
    entry is missing, or while any ref other than a backup still reaches old
    history. Then expires reflogs (not the stash's), prunes, and proves no old
    commit of the commit-map is left (VerificationFailed, exit 1, otherwise).
    """
    c = _Clone(repo, load_commit_map(commit_map), None)
    sibling = _sibling_purged(commit_map)
    c.names = LocalNames(sibling.names if sibling is not None else ())
    path = c.root / JOURNAL
    journal: dict[str, object] = {}
    if path.is_file():
        try:
            journal = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: unreadable; run git-sanitize migrate again") from exc
    for name, new_tip in dict(journal.get("branches") or {}).items():  # type: ignore[call-overload]
        ref = f"refs/heads/{name}"
        now = c.out("rev-parse", "-q", "--verify", ref, check=False)
        if not now or c.run("merge-base", "--is-ancestor", new_tip, now, check=False) != 0:
            raise UsageError(f"branch {name} no longer holds its migrated work ({new_tip[:12]}); nothing was deleted. "
                             f"Put it back: git branch -f {quote(name)} {new_tip}")
    for tag, new in dict(journal.get("tags") or {}).items():  # type: ignore[call-overload]
        if c.out("rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False) != new:
            raise UsageError(f"tag {tag} no longer points at its migrated object ({new[:12]}); nothing was deleted. "
                             f"Put it back: git tag -f {quote(tag)} {new}")
    stashes = {sha for sha, _ in _stash_entries(c)}
    for sha in list(journal.get("stashes") or []):  # type: ignore[call-overload]
        if sha not in stashes:
            raise UsageError(f"migrated stash entry {sha[:12]} is no longer in git stash list; nothing was deleted. "
                             f"Keep it: git stash store {sha}")
    refs = [r for r in git.lines(c.out("for-each-ref", "--format=%(refname)")) if not r.startswith(BACKUP_PREFIX)]
    tips = set(c.out("for-each-ref", "--format=%(objectname)", *refs).split()) if refs else set()
    tips |= stashes
    head = c.out("rev-parse", "-q", "--verify", "HEAD", check=False)
    if head:
        tips.add(head)
    reachable = set(c.out("rev-list", "--stdin", input=("\n".join(sorted(tips)) + "\n").encode()).split()) \
        if tips else set()
    old = sorted(reachable & c.changed)
    if old:
        holders = git.lines(c.out("for-each-ref", "--format=%(refname)", "--contains", old[0]))
        where = next((h for h in holders if not h.startswith(BACKUP_PREFIX)), "HEAD")
        raise UsageError(f"{where} still holds old history (commit {old[0][:12]}); nothing was deleted. Run "
                         "git-sanitize migrate first (after git fetch), or delete that ref if you do not need it")
    backups = git.lines(c.out("for-each-ref", "--format=%(refname)", BACKUP_PREFIX))
    for ref in backups:
        c.run("update-ref", "-d", ref)
    for pseudo in ("ORIG_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD"):
        c.run("update-ref", "-d", pseudo, check=False)
    path.unlink(missing_ok=True)
    # git stash list IS the stash's reflog: expiring every reflog would drop all entries but the newest,
    # so the (now rewritten) entries are stored again afterwards.
    entries = _stash_entries(c)
    c.run("reflog", "expire", "--expire=now", "--expire-unreachable=now", "--all")
    if entries:
        c.run("update-ref", "-d", "refs/stash")
        for sha, msg in reversed(entries):
            c.run("stash", "store", "-m", c.names.rename(msg), sha)
    c.run("-c", "gc.reflogExpire=never", "-c", "gc.reflogExpireUnreachable=never", "gc", "--quiet",
          "--prune=now")
    present = git.objects.present(c.work, c.changed)
    if present and any((c.root / "objects" / "pack").glob("*.promisor")):
        raise VerificationFailed(
            f"{len(present)} old commit(s) are still in this clone (e.g. {present[0][:12]}), in promisor packs: "
            "this is a partial clone (or a copy of one), and git gc keeps whatever a promisor remote sent. "
            "Your migrated branches are in place; make a fresh clone and fetch them into it (git clone <url> "
            f"fresh && git -C fresh fetch {quote(str(c.work.resolve()))} 'refs/heads/*:refs/heads/local/*'), "
            "then delete this one")
    if present:
        raise VerificationFailed(f"{len(present)} old commit(s) are still in this clone (e.g. {present[0][:12]}); "
                                 "another worktree or an alternate object store may hold them")
    return FinishResult(len(backups), len(c.changed))


def _sibling_purged(commit_map: str) -> Purged | None:
    """``purged.json`` published beside the commit-map (notify writes both), if there is one."""
    if "://" in commit_map:
        try:
            return load_purged(commit_map.rsplit("/", 1)[0] + "/purged.json")
        except UsageError:
            return None
    sibling = Path(commit_map).parent / "purged.json"
    return load_purged(str(sibling)) if sibling.is_file() else None


def _free_backup_ref(work: Path, ref: str) -> str:
    candidate, n = ref, 1
    while git.run(["rev-parse", "-q", "--verify", candidate], cwd=work, check=False).returncode == 0:
        n += 1
        candidate = f"{ref}-{n}"
    return candidate


def _return_to(work: Path, target: str, *, force: bool) -> None:
    """Check out the branch the user was on (or, detached, where HEAD belongs now)."""
    if target:
        git.run(["checkout", "--quiet", *(["-f"] if force else []), target], cwd=work, check=False)


def _planned_renames(c: _Clone) -> dict[str, str]:
    """Local branch and tag → its new name, for every one whose name holds a published value.

    UsageError, before anything moves, when a branch's new name is taken by another local branch. A tag
    whose new name the fetch already brought is only deleted (the server's copy replaces it)."""
    if not c.names:
        return {}
    out: dict[str, str] = {}
    taken = set(git.lines(c.out("for-each-ref", "--format=%(refname)", "refs/heads/", "refs/tags/")))
    for ref in sorted(taken):
        new = c.names.rename(ref)
        if new == ref:
            continue
        if new in taken and ref.startswith("refs/heads/"):
            raise UsageError(f"branch {c.show(ref.removeprefix('refs/heads/'))}: its new name "
                             f"{new.removeprefix('refs/heads/')} is already a local branch; delete or rename that "
                             "one (git branch -m), then run migrate again. Nothing was moved")
        out[ref] = new
    return out


def _rename(c: _Clone, renames: dict[str, str]) -> dict[str, str]:
    """Give each local branch and tag its new name: the old name goes from refs, reflog and config.

    ``git branch -m`` carries the reflog and the ``branch.<name>.*`` config along; the upstream it
    tracks was renamed on the server too, so ``branch.<new>.merge`` follows. The old reflog entries
    that name the branch are expired by ``migrate --finish``. Returns each renamed tag → its object now."""
    retagged: dict[str, str] = {}
    for ref, new in renames.items():
        if ref.startswith("refs/heads/"):
            old_b, new_b = ref.removeprefix("refs/heads/"), new.removeprefix("refs/heads/")
            c.run("branch", "-m", "--", old_b, new_b)
            merge = c.out("config", "--get", f"branch.{new_b}.merge", check=False)
            if merge and c.names.holds(merge):
                c.run("config", f"branch.{new_b}.merge", c.names.rename(merge))
        elif c.run("rev-parse", "-q", "--verify", new, check=False) == 0:
            c.run("update-ref", "-d", ref)  # the fetch brought the server's renamed tag
            retagged[new] = c.out("rev-parse", new)
        else:
            retagged[new] = _renamed_tag_object(c, ref, new)
            c.run("update-ref", new, retagged[new])
            c.run("update-ref", "-d", ref)
    return retagged


def _repoint_remote_heads(c: _Clone) -> None:
    """``refs/remotes/<remote>/HEAD`` names the server's default branch as it was at clone time; a fetch
    never updates it. When that name held a value, point it at the renamed branch the fetch brought (or
    drop it if there is none: ``git remote set-head <remote> --auto`` sets it again from the server)."""
    if not c.names:
        return
    # Not for-each-ref: once the fetch pruned the old branch, this symbolic ref dangles and it skips it.
    for remote in git.lines(c.out("remote")):
        ref = f"refs/remotes/{remote}/HEAD"
        target = c.out("symbolic-ref", "-q", ref, check=False)
        if not target or not c.names.holds(target):
            continue
        new = c.names.rename(target)
        if c.run("rev-parse", "-q", "--verify", new, check=False) == 0:
            c.run("symbolic-ref", ref, new)
        else:
            c.run("symbolic-ref", "--delete", ref)


def _renamed_tag_object(c: _Clone, ref: str, new: str) -> str:
    """What the renamed tag points at: an annotated tag's object names its tag (and may say it in its
    message), so it is made again with the new name; a signature over the old text cannot survive."""
    obj = c.out("rev-parse", ref)
    if c.out("cat-file", "-t", obj) != "tag":
        return obj
    body = git.run(["cat-file", "tag", obj], cwd=c.work).stdout.decode("utf-8", "surrogateescape")
    head, _, message = body.partition("\n\n")
    lines = [f"tag {new.removeprefix('refs/tags/')}" if line.startswith("tag ") else line for line in head.split("\n")]
    for marker in ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN SSH SIGNATURE-----"):
        message = message.split(marker, 1)[0]
    text = "\n".join(lines) + "\n\n" + c.names.rename(message)
    return git.out(["mktag"], cwd=c.work, input=text.encode("utf-8", "surrogateescape"))
