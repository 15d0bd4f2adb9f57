"""Refs: the ones a repository holds, the ones a location advertises, the ones no push may touch."""

from __future__ import annotations

import os

from sanitize.git.location import Location
from sanitize.git.runner import lines, out, run

# Namespaces forges manage themselves: readable, never updatable by a push.
HIDDEN_PREFIXES = ("refs/pull/", "refs/merge-requests/", "refs/keep-around/")


def refs(repo: str | os.PathLike[str]) -> dict[str, str]:
    """Every ref (branches, tags, notes, stash, remote-tracking) → the object it names."""
    text = out(["for-each-ref", "--format=%(objectname) %(refname)"], cwd=repo)
    result: dict[str, str] = {}
    for line in lines(text):
        sha, _, name = line.partition(" ")
        result[name] = sha
    return result


def remote_refs(location: str | Location) -> dict[str, str]:
    """Every ref a repository (path or URL) advertises, as ``git ls-remote`` sees it; HEAD and peeled tags left out."""
    result: dict[str, str] = {}
    for line in lines(out(["ls-remote", location])):
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/") and not ref.endswith("^{}"):
            result[ref] = sha
    return result


def is_hidden(ref: str, *, forge_refs: frozenset[str] | None = None) -> bool:
    """Refs no push can update: forge-managed ones (pull/merge requests) and one-level refs such as
    ``refs/stash`` (receive-pack refuses them as "funny refname"). Left out, listed for support.

    ``forge_refs``: the refs this remote is known to hide from pushes (:func:`forge_managed`); None when
    it cannot be asked (https), where the forge namespaces are assumed hidden."""
    if ref.count("/") < 2:
        return True
    return ref.startswith(HIDDEN_PREFIXES) if forge_refs is None else ref in forge_refs


def forge_managed(location: str | Location) -> frozenset[str] | None:
    """The refs ``location`` serves to a fetch but hides from a push (``receive.hideRefs``: how forges keep
    ``refs/pull/*``), from receive-pack's own advertisement; None where it cannot be asked (https).

    On a plain bare repository or ``git daemon`` nothing is hidden: its ``refs/pull/*`` are ordinary
    refs, pushed and verified like any branch."""
    if str(location).startswith(("http://", "https://")):
        return None
    served = run(["ls-remote", location], check=False)
    writable = run(["ls-remote", "--upload-pack=git-receive-pack", location], check=False)
    if served.returncode != 0 or writable.returncode != 0:
        return None

    def names(data: bytes) -> set[str]:
        found = set()
        for line in lines(data.decode("utf-8", "surrogateescape")):
            ref = line.partition("\t")[2]
            if ref.startswith("refs/") and not ref.endswith("^{}"):
                found.add(ref)
        return found

    return frozenset(names(served.stdout) - names(writable.stdout))


def remote_head(location: str | Location) -> str | None:
    """The ref a repository's HEAD names (its default branch), or None if it names none it can show.

    A local path is asked directly (its HEAD may name a branch that does not exist); any other location
    through ``ls-remote --symref``, which shows HEAD only while it names an existing ref."""
    loc = Location.parse(location)
    if loc.path is not None:
        proc = run(["symbolic-ref", "-q", "HEAD"], cwd=loc.path, check=False)
        name = proc.stdout.decode("utf-8", "surrogateescape").strip()
        return name or None
    for line in lines(out(["ls-remote", "--symref", loc, "HEAD"])):
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            return line[len("ref: "):-len("\tHEAD")]
    return None


def is_bare(path: str | os.PathLike[str]) -> bool:
    """True for a bare repository (one whose HEAD git may point anywhere without touching a work tree)."""
    proc = run(["rev-parse", "--is-bare-repository"], cwd=path, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


def set_head(path: str | os.PathLike[str], ref: str) -> None:
    """Point a local repository's HEAD at ``ref`` (which need not exist yet)."""
    run(["symbolic-ref", "HEAD", ref], cwd=path)
