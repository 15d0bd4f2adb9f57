"""The collaborator's clone as migrate and finish see it: its git dir, the commit-map, the purge list.

Also the small moves both steps share: the rewritten counterpart of an old
commit, a free backup ref name, and the checkout back to where the user was.
"""

from __future__ import annotations

import os
from pathlib import Path

from sanitize import git
from sanitize.collaborator.local_names import LocalNames
from sanitize.collaborator.published import Purged
from sanitize.errors import UsageError
from sanitize.printable import printable

BACKUP_PREFIX = "refs/sanitize-backup/"
#: What migrate moved, kept in the clone's git dir for ``finish``.
JOURNAL = "sanitize-migrate.json"


def zero_oid(oid: str) -> bool:
    """Whether ``oid`` is the all-zero id (the commit-map's "dropped by the rewrite")."""
    return set(oid) == {"0"}


def rewritten_base(old: str, cmap: dict[str, str], repo: Path) -> str:
    """The rewritten counterpart of ``old``; for a commit filter-repo dropped, its nearest kept ancestor's.

    A commit the map does not list was not rewritten (a rewrite restricted to the affected commits leaves
    their ancestors alone): it is its own counterpart."""
    for sha in git.out(["rev-list", "--first-parent", old], cwd=repo).splitlines():
        new = cmap.get(sha, sha)
        if not zero_oid(new):
            return new
    raise UsageError(f"no rewritten counterpart for {old[:12]} in the commit-map")


def _subject(repo: Path, commit: str) -> str:
    return git.out(["log", "-1", "--format=%s", commit], cwd=repo)[:60]


class Clone:
    """The collaborator's clone, with the commit-map and purge list it is migrated by."""

    def __init__(self, repo: str | os.PathLike[str], cmap: dict[str, str], purged: Purged | None) -> None:
        self.root = git.git_dir(repo)
        self.work = git.work_tree_of(repo) or Path(repo)
        self.cmap = cmap
        self.purged = purged
        self.changed = {o for o, n in cmap.items() if o != n}
        self.values = {n for o, n in cmap.items() if o != n and not zero_oid(n)}
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


def counterpart(c: Clone, old: str, local_map: dict[str, str]) -> str:
    """Where ``old`` is now: where this run moved it (``local_map``), else its rewritten counterpart."""
    return local_map.get(old) or rewritten_base(old, c.cmap, c.work)


def free_backup_ref(work: Path, ref: str) -> str:
    """``ref``, or ``ref-2``, ``ref-3``, …: the first backup ref name not taken (an earlier run's backup stays)."""
    candidate, n = ref, 1
    while git.run(["rev-parse", "-q", "--verify", candidate], cwd=work, check=False).returncode == 0:
        n += 1
        candidate = f"{ref}-{n}"
    return candidate


def return_to(work: Path, target: str, *, force: bool) -> None:
    """Check out the branch the user was on (or, detached, where HEAD belongs now)."""
    if target:
        git.run(["checkout", "--quiet", *(["-f"] if force else []), target], cwd=work, check=False)
