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

This module runs the procedure; each step lives in its own module:
:mod:`~sanitize.collaborator.published` (the commit-map and purge list read
back), :mod:`~sanitize.collaborator.survey` (what is on the old history,
checked before anything moves; :mod:`~sanitize.collaborator.contamination`
is the purge-list check), :mod:`~sanitize.collaborator.moves` (branches,
tags, names) and :mod:`~sanitize.collaborator.stashes`, then
:mod:`~sanitize.collaborator.finish` (``--finish``: backups and old objects
deleted once the work is safe). :mod:`~sanitize.collaborator.clone` is the
clone they all work on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

from sanitize.collaborator.clone import BACKUP_PREFIX, JOURNAL, Clone, counterpart, return_to
from sanitize.collaborator.contamination import EMPTY_TREE, candidate_hashes
from sanitize.collaborator.finish import FinishResult, finish
from sanitize.collaborator.moves import BranchMove, TagMove, move_branch, move_tags, rename_refs, repoint_remote_heads
from sanitize.collaborator.published import Purged, load_commit_map, load_purged, sibling_purged
from sanitize.collaborator.stashes import StashMove, move_stashes
from sanitize.collaborator.survey import survey
from sanitize.errors import GitError, UsageError

__all__ = ["BACKUP_PREFIX", "EMPTY_TREE", "JOURNAL", "BranchMove", "FinishResult", "Migration", "Purged", "StashMove",
           "TagMove", "candidate_hashes", "finish", "load_commit_map", "load_purged", "migrate"]


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
    purge_list = load_purged(purged) if purged else sibling_purged(commit_map)
    c = Clone(repo, cmap, purge_list)
    found = survey(c)
    plans, skipped, head, head_sha, dirty, renames = (found.plans, found.skipped, found.head, found.head_sha,
                                                      found.dirty, found.renames)

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
            moved.append(move_branch(c, p, local_map, backups))
        stash_moves = move_stashes(c, found.stashes, dirty, local_map)
        tag_moves = move_tags(c, found.tags, local_map, skipped)
        retagged = rename_refs(c, renames)
        repoint_remote_heads(c)
    except (UsageError, GitError):
        for ref, value in backups:
            c.run("update-ref", ref, value or "", check=False)
        return_to(c.work, head or head_sha, force=True)
        if dirty:
            c.run("stash", "apply", "--index", dirty, check=False)
            c.run("update-ref", "-d", BACKUP_PREFIX + "uncommitted", check=False)
        raise
    head = renames.get(f"refs/heads/{head}", f"refs/heads/{head}").removeprefix("refs/heads/") if head else head
    moved = [replace(m, branch=c.names.rename(m.branch)) for m in moved]
    tag_moves = [replace(t, tag=c.names.rename(t.tag), new=retagged.get(f"refs/tags/{c.names.rename(t.tag)}", t.new))
                 for t in tag_moves]
    skipped = {c.show(k): v for k, v in skipped.items()}
    return_to(c.work, head or (counterpart(c, head_sha, local_map) if head_sha in local_map or head_sha in c.changed
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



def _write_journal(c: Clone, m: Migration) -> None:
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
