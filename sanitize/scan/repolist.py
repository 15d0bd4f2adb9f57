"""The list of repositories an organisation scan covers: one URL or path per line, or a directory of them.

A list is hostile input: it comes from an inventory export, a ConfigMap, a
colleague's spreadsheet. Every entry is checked before anything is cloned:
no control or format characters (a carriage return or a bidi override could
make a shown name lie), no leading ``-`` (it would read as an option), only
transports a person means (``https``, ``http``, ``ssh``, ``git``, ``file``
and scp-like ``user@host:path``; never ``ext::`` and friends, which run
commands). A bad entry stops the scan with one line naming its line number,
never echoing the entry. Credentials in a URL are kept for cloning but only
ever shown redacted (the git layer's :func:`~sanitize.git.redact_url`).

Relative paths are resolved against the list file's directory, so a list
means the same wherever the command runs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sanitize import git
from sanitize.errors import UsageError
from sanitize.git.location import REDACTED
from sanitize.inputs import read_text

SCHEMES = ("https", "http", "ssh", "git", "file")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^[^/\s:@]+@[^/\s:]+:")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # git's "<transport>::<address>" remote helpers
MAX_ENTRIES = 100_000
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RepoEntry:
    """One repository of the list: its position, where to clone it from, and how to show it."""

    index: int
    location: str = field(repr=False)  # may carry a token in its URL: never shown, never written
    shown: str  # the location with any URL credentials redacted

    @property
    def name(self) -> str:
        """A file-name-safe name, unique in the list: ``00007-org_repo``."""
        tail = self.shown.rstrip("/").removesuffix(".git").rstrip("/")
        parts = re.split(r"[/:]", tail)
        base = _SLUG.sub("_", "_".join(p for p in parts[-2:] if p and p != f"{REDACTED}@")).strip("._-")[:60]
        return f"{self.index:05d}-{base or 'repo'}"

    @property
    def key(self) -> str:
        """A stable id of the repository itself (not its position): names its scan cache."""
        return hashlib.sha256(self.location.encode("utf-8", "surrogateescape")).hexdigest()[:20]


@dataclass(frozen=True)
class RepoList:
    """Every entry, in list order, and a digest that lets shards prove they split the same list."""

    source: str
    entries: tuple[RepoEntry, ...]

    @property
    def digest(self) -> str:
        """SHA-256 over the shown (redacted) entries in order: the same list, the same digest."""
        return hashlib.sha256("\n".join(e.shown for e in self.entries).encode("utf-8", "surrogateescape")).hexdigest()

    def shard(self, index: int, count: int) -> tuple[RepoEntry, ...]:
        """Entries ``index``, ``index + count``, … (round robin: large and small repositories mix)."""
        if count < 1 or not 0 <= index < count:
            raise UsageError(f"shard {index}/{count}: the index must be 0 to {max(count - 1, 0)}")
        return self.entries[index::count]


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → (K, N) with 0 ≤ K < N; UsageError otherwise."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not m:
        raise UsageError(f"--shard {text[:20]!r}: expected INDEX/COUNT, e.g. 0/4 (a Job's completion index)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise UsageError(f"--shard {index}/{count}: the index must be 0 to {max(count - 1, 0)}")
    return index, count


def check_entry(text: str, where: str, base: Path) -> str:
    """The location to clone for one list entry; UsageError naming ``where`` (never the entry) if unsafe."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise UsageError(f"{where}: a control or format character in the entry; one repository per line, "
                         "printable text only")
    if text.startswith("-"):
        raise UsageError(f"{where}: an entry starts with '-'; name a URL or a path")
    scheme = _SCHEME.match(text)
    if scheme:
        if scheme.group(1).lower() not in SCHEMES:
            raise UsageError(f"{where}: transport {scheme.group(1)[:20]!r} is not allowed "
                             f"(use {', '.join(SCHEMES)} or user@host:path)")
        return text
    if _TRANSPORT.match(text):
        raise UsageError(f"{where}: remote-helper addresses ('name::…') are not allowed; use a URL or a path")
    if _SCP.match(text) and not (base / text).exists():
        return text
    return str((base / text).resolve())


def load_repo_list(source: str | Path) -> RepoList:
    """The repositories of a list file, or of a directory (each repository inside it, sorted).

    UsageError (exit 2) for an unreadable, empty or oversized list, a bad entry, or the
    same repository twice.
    """
    p = Path(source)
    if p.is_dir():
        locations = [(check_entry(str(r), f"{p}: repository {n}", p), f"{p}: repository {n}")
                     for n, r in enumerate(_repositories_in(p), start=1)]
        if not locations:
            raise UsageError(f"{p}: no git repository in this directory (nor one level below)")
    else:
        text = read_text(p, "repository list")
        locations = []
        for n, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip(" \t")
            if not line or line.startswith("#"):
                continue
            locations.append((check_entry(line, f"{p}:{n}", p.resolve().parent), f"{p}:{n}"))
            if len(locations) > MAX_ENTRIES:
                raise UsageError(f"{p}: more than {MAX_ENTRIES} repositories; split the list")
        if not locations:
            raise UsageError(f"{p}: the list names no repository (one URL or path per line, # for comments)")
    seen: dict[str, str] = {}
    entries = []
    for i, (location, where) in enumerate(locations):
        if location in seen:
            raise UsageError(f"{where}: the same repository as {seen[location]}; list each once")
        seen[location] = where
        entries.append(RepoEntry(i, location, git.redact_url(location)))
    return RepoList(str(p), tuple(entries))


def _is_repository(path: Path) -> bool:
    return ((path / "HEAD").is_file() and (path / "objects").is_dir()) or (path / ".git").exists()


def _repositories_in(root: Path) -> list[Path]:
    """Repositories directly in ``root`` or one level below (a directory of mirrors: ``owner+name/repo``)."""
    found: list[Path] = []
    for child in sorted(c for c in root.iterdir() if c.is_dir() and not c.is_symlink()):
        if _is_repository(child):
            found.append(child.resolve())
            continue
        found.extend(g.resolve() for g in sorted(child.iterdir())
                     if g.is_dir() and not g.is_symlink() and _is_repository(g))
    return found
