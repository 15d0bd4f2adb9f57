"""Refs: the ones a repository holds, the ones a location advertises, the ones no push may touch."""

from __future__ import annotations

import os

from sanitize.git.location import Location
from sanitize.git.runner import out

# Namespaces forges manage themselves: readable, never updatable by a push.
HIDDEN_PREFIXES = ("refs/pull/", "refs/merge-requests/", "refs/keep-around/")


def refs(repo: str | os.PathLike[str]) -> dict[str, str]:
    """Every ref (branches, tags, notes, stash, remote-tracking) → the object it names."""
    text = out(["for-each-ref", "--format=%(objectname) %(refname)"], cwd=repo)
    result: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.partition(" ")
        result[name] = sha
    return result


def remote_refs(location: str | Location) -> dict[str, str]:
    """Every ref a repository (path or URL) advertises, as ``git ls-remote`` sees it; HEAD and peeled tags left out."""
    result: dict[str, str] = {}
    for line in out(["ls-remote", location]).splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/") and not ref.endswith("^{}"):
            result[ref] = sha
    return result


def is_hidden(ref: str) -> bool:
    """Refs no push can update: forge-managed (pull/merge requests) and one-level refs such as
    ``refs/stash`` (receive-pack refuses them as "funny refname"). Left out, listed for support."""
    return ref.startswith(HIDDEN_PREFIXES) or ref.count("/") < 2
