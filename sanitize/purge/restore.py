"""Recover the original history from a workdir's ``backup.bundle``.

The bundle is written before anything is rewritten, so whatever happened
later (a crash inside filter-repo, a bad push), every original ref can be
brought back: into a new bare repository, or force-pushed back to a remote
by the operator after review.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sanitize import git
from sanitize.errors import UsageError


@dataclass(frozen=True)
class RestoreResult:
    """Where the original history now lives and how many refs it has."""

    path: Path
    refs: dict[str, str]


def restore(workdir: str | os.PathLike[str], to: str | os.PathLike[str] | None = None) -> RestoreResult:
    """Clone ``WORKDIR/backup.bundle`` into ``to`` (default ``WORKDIR/restored.git``) as a bare mirror."""
    root = Path(workdir)
    bundle = root / "backup.bundle"
    if not bundle.is_file():
        raise UsageError(f"{bundle}: no backup bundle (was rewrite ever started in this workdir?)")
    target = Path(to) if to is not None else root / "restored.git"
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target}: exists and is not empty; choose another --to (nothing was changed)")
    created = not target.exists()
    git.run(["init", "--quiet", "--bare", str(target)])
    # verify needs a repository; the fresh, empty target is one.
    # verify checks the header (needs a repository: the fresh target is one); fetch checks the pack.
    fetched = git.bundle.verify(bundle, cwd=target) and git.bundle.fetch_all(bundle, target, check=False)
    if not fetched:
        if created:
            shutil.rmtree(target)
        raise UsageError(f"{bundle}: the bundle is incomplete or corrupt; keep it and the remote untouched")
    return RestoreResult(path=target, refs=git.refs(target))
