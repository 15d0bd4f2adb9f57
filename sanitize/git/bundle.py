"""Bundles: the backup of every original ref, written before anything is rewritten, and read back.

A bundle holds the leaked history itself: it is created 0600 (umask 077, so
no other user can read it even while git writes it), verified, and only then
renamed into place, so a crash leaves the previous bundle or none.
"""

from __future__ import annotations

import os
from pathlib import Path

from sanitize.git.runner import lines, run


def create(repo: str | os.PathLike[str], dest: Path) -> None:
    """Every ref of ``repo`` into ``dest``: written beside it, 0600, verified, then renamed over it."""
    tmp = dest.with_name(dest.name + ".tmp")
    old = os.umask(0o077)
    try:
        run(["bundle", "create", "--quiet", str(tmp), "--all"], cwd=repo)
    finally:
        os.umask(old)
    os.chmod(tmp, 0o600)
    run(["bundle", "verify", "--quiet", str(tmp)], cwd=repo)
    os.replace(tmp, dest)


def verify(bundle: Path, *, cwd: str | os.PathLike[str]) -> bool:
    """Whether the bundle is complete (its header, and its prerequisites are in the repository at ``cwd``)."""
    return run(["bundle", "verify", "--quiet", str(Path(bundle).resolve())], cwd=cwd, check=False).returncode == 0


def heads(bundle: Path, *, cwd: str | os.PathLike[str]) -> dict[str, str]:
    """Every ref the bundle holds → its object id (empty if it cannot be read)."""
    proc = run(["bundle", "list-heads", str(Path(bundle).resolve())], cwd=cwd, check=False)
    result: dict[str, str] = {}
    for line in lines(proc.stdout.decode("utf-8", "surrogateescape")):
        sha, _, ref = line.partition(" ")
        if ref.startswith("refs/"):
            result[ref] = sha
    return result


def fetch_all(bundle: Path, into: str | os.PathLike[str], *, check: bool = True) -> bool:
    """Fetch every ref of the bundle into the repository ``into`` (``+refs/*:refs/*``); False if it failed
    and ``check`` is off (GitError if on)."""
    proc = run(["fetch", "--quiet", str(Path(bundle).resolve()), "+refs/*:refs/*"], cwd=into, check=check)
    return proc.returncode == 0


def fetch_refs(bundle: Path, into: str | os.PathLike[str], refs: list[str]) -> None:
    """Fetch the objects of ``refs`` (names the bundle holds) into ``into`` without creating any ref there
    (only FETCH_HEAD): a reader of a few old tips needs no copy of thousands of refs."""
    if refs:
        run(["fetch", "--quiet", "--no-write-fetch-head", str(Path(bundle).resolve()), *refs], cwd=into)
