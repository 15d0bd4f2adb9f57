"""``migrate --finish``: delete the backups and the old objects, once the migrated work is safe."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from sanitize import git
from sanitize.collaborator.clone import BACKUP_PREFIX, JOURNAL, Clone
from sanitize.collaborator.local_names import LocalNames
from sanitize.collaborator.published import load_commit_map, sibling_purged
from sanitize.collaborator.stashes import stash_entries
from sanitize.errors import UsageError, VerificationFailed
from sanitize.shellquote import quote


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
    c = Clone(repo, load_commit_map(commit_map), None)
    sibling = sibling_purged(commit_map)
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
    stashes = {sha for sha, _ in stash_entries(c)}
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
    entries = stash_entries(c)
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
