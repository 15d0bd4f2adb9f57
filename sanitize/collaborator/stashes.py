"""Stash entries and uncommitted changes: checked against the purge list, then re-based onto the rewrite.

A stash entry is a small merge (work tree, index, untracked files); each part
is carried onto the rewritten counterpart of its base with a scratch index,
and its messages lose any branch name that held a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sanitize import git
from sanitize.collaborator.clone import BACKUP_PREFIX, Clone, counterpart
from sanitize.collaborator.contamination import EMPTY_TREE, diff_contamination
from sanitize.errors import UsageError


@dataclass(frozen=True)
class StashMove:
    """One stash entry (or the uncommitted changes, ``dirty``) re-based onto the rewritten history."""

    index: int
    old: str
    new: str
    message: str
    dirty: bool = False


def stash_entries(c: Clone) -> list[tuple[str, str]]:
    """(commit, message) of every stash entry, stash@{0} first."""
    if c.run("rev-parse", "-q", "--verify", "refs/stash", check=False) != 0:
        return []
    lines = git.lines(c.out("log", "-g", "--format=%H%x00%gs", "refs/stash"))
    return [(h, m) for h, _, m in (line.partition("\x00") for line in lines)]


def check_stash(c: Clone, what: str, stash: str) -> None:
    """Refuse a stash (or the uncommitted changes) that re-adds purged content."""
    if c.purged is None:
        return
    parents = c.out("rev-list", "--parents", "-n1", stash).split()[1:]
    base = parents[0]
    targets = [stash] + ([parents[1]] if len(parents) > 1 else [])
    for target in targets:
        why = diff_contamination(c.work, base, target, c.purged)
        if why:
            raise UsageError(f"{what} {why}; take that change out (or copy the file out of the repository), then "
                             "run migrate again. Nothing was moved")
    if len(parents) > 2:  # untracked files, a root commit
        why = diff_contamination(c.work, EMPTY_TREE, parents[2], c.purged)
        if why:
            raise UsageError(f"{what}: its untracked files {why.removeprefix('re-adds ')}; nothing was moved")


def move_stashes(c: Clone, stashes: list[tuple[str, str]], dirty: str,
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
            new = _rebase_stash(c, sha, counterpart(c, base, local_map))
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
        new = _rebase_stash(c, dirty, counterpart(c, base, local_map)) if on_old(base) else dirty
        moves.append(StashMove(-1, dirty, new, c.show(c.out("log", "-1", "--format=%s", dirty)), dirty=True))
    return moves


def _rebase_stash(c: Clone, stash: str, new_head: str) -> str:
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


def _untracked(c: Clone, commit: str) -> str:
    """A stash's untracked-files commit (a root commit): kept, unless its message ("untracked files on
    <branch>: …") names a branch that held a value; then the same tree under the renamed message."""
    msg = c.out("log", "-1", "--format=%B", commit)
    if not c.names.holds(msg):
        return commit
    return c.out("commit-tree", f"{commit}^{{tree}}", "-m", c.names.rename(msg), env=_identity(c, commit))


def _identity(c: Clone, commit: str) -> dict[str, str]:
    fields = c.out("log", "-1", "--format=%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI", commit).split("\x00")
    keys = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
            "GIT_COMMITTER_DATE")
    return dict(zip(keys, fields, strict=False))
