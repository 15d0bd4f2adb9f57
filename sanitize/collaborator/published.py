"""What notify publishes for collaborators, read back: the commit-map and ``purged.json``.

Both come from a file or a URL (the team's published kit). The commit-map is
git-filter-repo's (old → new commit id per line, after its header) and lists
only the commits the rewrite changed; ``purged.json`` lists what the purge
removed as paths, blob ids and SHA-256 hashes, never a value.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sanitize.collaborator.local_names import NameValue
from sanitize.errors import UsageError

_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class Purged:
    """What the purge removed, as published for collaborators (no values, only hashes)."""

    paths: frozenset[str] = frozenset()
    blobs: frozenset[str] = frozenset()
    secret_sha256: frozenset[str] = frozenset()
    names: tuple[NameValue, ...] = ()  # values that were part of a ref name: local names holding one are renamed


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


def sibling_purged(commit_map: str) -> Purged | None:
    """``purged.json`` published beside the commit-map (notify writes both), if there is one."""
    if "://" in commit_map:
        try:
            return load_purged(commit_map.rsplit("/", 1)[0] + "/purged.json")
        except UsageError:
            return None
    sibling = Path(commit_map).parent / "purged.json"
    return load_purged(str(sibling)) if sibling.is_file() else None
