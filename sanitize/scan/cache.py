"""What earlier scans already read: detection results per object id, so a rescan reads only new objects.

A repeated scan, the rewrite's and verify's rescans of the same history, and a
pre-push hook see mostly objects an earlier scan already read. Detection is a
pure function of an object's bytes (named by its id), the path the blob is
scanned at and the rule set, so the cache is keyed by exactly those: the
object id, a hash of the path, and a digest of the rules (the scan package's
code, detect-secrets' version and any custom rules file). A different digest
discards the whole cache; a blob met at another path is read again.

The cache stores only what the workers return (rule, line, hashes, a preview of
at most 4 characters), never a value, and no locations: every finding, cached
or not, is located in the history being scanned, so the report is the one an
uncached scan writes. Objects that could not be read are never recorded.
Trust: whoever can write the cache file can hide findings from later scans, so
it is created 0600 and belongs in a workdir or another private place.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sanitize.errors import UsageError
from sanitize.scan.detectors import Hit

SCHEMA = "git-sanitize/scan-cache/v1"
WORKDIR_NAME = "scan-cache.json"  # the cache rewrite and verify share inside a purge's workdir
_SCAN_PACKAGE = Path(__file__).resolve().parent


def rules_digest(rules_file: str | None) -> str:
    """A digest of everything detection depends on: our scan code, detect-secrets, the custom rules.

    Hashing the scan package's source (not only a version number) means a changed rule
    or detector, even in a development checkout, invalidates every cached result. The
    repository's own settings (allowlist, baseline) apply after detection, so they need no key.
    """
    h = hashlib.sha256(SCHEMA.encode())
    for name in ("detect-secrets", "hyperscan"):
        try:
            h.update(f"\0{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"\0{name}=?".encode())
    # The scan package and what its detectors import from outside it (hashes, previews, the version).
    package = _SCAN_PACKAGE.parent
    sources = [*sorted(_SCAN_PACKAGE.rglob("*.py")), package / "secret.py", package / "__init__.py"]
    for src in sources:
        h.update(b"\0" + src.relative_to(package).as_posix().encode() + b"\0")
        h.update(src.read_bytes())
    if rules_file is not None:
        try:
            h.update(b"\0rules\0" + Path(rules_file).read_bytes())
        except OSError as exc:
            raise UsageError(f"{rules_file}: cannot read the rules file ({exc.strerror})") from exc
    return h.hexdigest()


def _path_key(path: str) -> str:
    if not path:
        return _NO_PATH
    return hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


_NO_PATH = "0" * 16  # commits, tags and blobs named by a ref: read without a path


@dataclass(frozen=True)
class Entry:
    """What reading one object produced: its type and size, and the hits of a blob or message."""

    type: str
    size: int
    hits: tuple[Hit, ...] = ()
    generated: frozenset[str] = frozenset()  # sha256s of machine-made generic values (engine._value_traits)
    documented: frozenset[str] = frozenset()  # sha256s seen only in docstrings


def _hit_row(h: Hit) -> list[Any]:
    return [h.rule, h.kind, h.line, h.secret_sha256, h.secret_sha1, h.preview, list(h.encoding)]


def _row_hit(row: list[Any]) -> Hit:
    rule, kind, line, sha256, sha1, preview, encoding = row
    return Hit(str(rule), str(kind), None if line is None else int(line), str(sha256), str(sha1), str(preview),
               tuple(str(e) for e in encoding))


def _entry_row(e: Entry) -> list[Any]:
    if not (e.hits or e.generated or e.documented):
        return [e.type, e.size]
    return [e.type, e.size, [_hit_row(h) for h in e.hits], sorted(e.generated), sorted(e.documented)]


def _row_entry(row: list[Any]) -> Entry:
    if len(row) == 2:
        typ, size = row
        if not (isinstance(typ, str) and isinstance(size, int)):
            raise ValueError("a cache row is [type, size, ...]")
        return Entry(typ, size)
    typ, size, hits, generated, documented = row
    return Entry(str(typ), int(size), tuple(_row_hit(h) for h in hits), frozenset(map(str, generated)),
                 frozenset(map(str, documented)))


@dataclass
class ScanCache:
    """Detection results of earlier scans under one rules digest, loaded from and saved to ``path``."""

    path: Path
    digest: str
    _rows: dict[str, list[Any]] = field(default_factory=dict)  # oid + path key → encoded Entry
    reused: int = 0  # objects this scan took from the cache
    read: int = 0  # objects this scan read and added
    discarded: str = ""  # why an existing cache file was not used ("" when it was, or there was none)
    _dirty: bool = False

    @classmethod
    def open(cls, path: str | Path, rules_file: str | None = None) -> ScanCache:
        """The cache at ``path`` for this rule set; empty when the file is missing, stale or unreadable.

        A cache is an optimisation: a damaged or foreign file is discarded (and replaced on
        save), never trusted and never fatal. UsageError only when ``path`` cannot be a file.
        """
        p = Path(path)
        if p.is_dir():
            raise UsageError(f"{p}: the scan cache is a directory; name a file")
        if not p.parent.is_dir():
            raise UsageError(f"{p}: the scan cache's directory does not exist")
        cache = cls(p, rules_digest(rules_file))
        try:
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
                # Whoever can write the cache can hide findings: trust only a private file of ours.
                cache.discarded = "not a private file of this user (a symlink, another owner, or writable by others)"
                cache._dirty = True
                return cache
            doc = json.loads(p.read_bytes())
        except FileNotFoundError:
            return cache
        except (OSError, ValueError) as exc:
            cache.discarded = f"unreadable ({exc.__class__.__name__})"
            cache._dirty = True
            return cache
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("objects"), dict):
            cache.discarded = "not a scan cache of this version"
        elif doc.get("rules") != cache.digest:
            cache.discarded = "made with other rules or another version"
        else:
            cache._rows = doc["objects"]
        cache._dirty = bool(cache.discarded)  # a discarded file is replaced on save
        return cache

    def __len__(self) -> int:
        return len(self._rows)

    def adopt(self, other: ScanCache) -> int:
        """Take the results of another cache of the same rules (``scan --cache`` before the purge); return
        how many were taken (none when its rules differ: it was discarded on open)."""
        if other.digest != self.digest or not other._rows:
            return 0
        before = len(self._rows)
        self._rows = {**other._rows, **self._rows}
        self._dirty = self._dirty or len(self._rows) != before
        return len(self._rows) - before

    def lookup(self, oid: str, path: str) -> Entry | None:
        """The cached result for ``oid`` read at ``path``, or None (then the object must be read)."""
        row = self._rows.get(oid + _path_key(path))
        if row is None:
            return None
        try:
            return _row_entry(row)
        except (TypeError, ValueError):
            return None  # a damaged row: read the object again (and record it anew)

    def split(self, chunks: Iterable[list[tuple[str, str]]],
              found: list[tuple[str, Entry]]) -> Iterator[list[tuple[str, str]]]:
        """Pass on only the objects not in the cache; append the cached ones to ``found``."""
        for chunk in chunks:
            rest = []
            for oid, path in chunk:
                entry = self.lookup(oid, path)
                if entry is None:
                    rest.append((oid, path))
                else:
                    found.append((oid, entry))
            self.reused += len(chunk) - len(rest)
            if rest:
                yield rest

    def add(self, oid: str, path: str, entry: Entry) -> None:
        """Record what reading ``oid`` at ``path`` produced."""
        self._rows[oid + _path_key(path)] = _entry_row(entry)
        self.read += 1
        self._dirty = True

    def add_clean(self, oid: str, path: str, typ: str, size: int) -> None:
        """Record an object whose reading found nothing (most of them: the short way)."""
        self._rows[oid + _path_key(path)] = [typ, size]
        self.read += 1
        self._dirty = True

    def save(self) -> None:
        """Write the cache (0600, replaced atomically) if this scan added to it."""
        from sanitize.workdir import write_private

        if not self._dirty:
            return

        doc = {"schema": SCHEMA, "rules": self.digest, "objects": self._rows}
        write_private(self.path, json.dumps(doc, separators=(",", ":")).encode("ascii"))
