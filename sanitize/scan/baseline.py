"""Baselines: known, accepted findings that ``scan --baseline FILE`` does not report again.

Two formats are read:

* our own findings JSON (``git-sanitize/findings/v2`` or ``v1``, e.g. an earlier ``scan
  --format json`` the team reviewed): a finding is suppressed when its
  ``(rule, secret_sha256)`` pair is in the baseline, wherever and on whatever
  line it appears — line numbers shift, the secret does not;
* a detect-secrets baseline (``.secrets.baseline``, any version: ``{"version",
  "results": {filename: [{"type", "hashed_secret", "line_number", ...}]}}``).
  Its ``hashed_secret`` is the SHA-1 of the value, and our findings hold only
  a SHA-256, so such an entry can be matched only while the value is known:
  the engine calls ``suppresses(finding, value)`` at the moment it has just
  detected the value, before it drops it. The match ignores the file name and
  line, as detect-secrets' own comparison does, because history moves files.
  An entry audited as a real secret (``"is_secret": true``) suppresses
  nothing: it is exactly what a purge must remove.

Anything unreadable, malformed or of another format is one :class:`UsageError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanitize.errors import UsageError
from sanitize.scan.report import READABLE, SCHEMA, Finding, ScanReport
from sanitize.secret import Secret

_SHA1 = re.compile(r"[0-9a-f]{40}")


def sha1_hex(value: str | Secret) -> str:
    """detect-secrets' ``hashed_secret`` of a value (SHA-1 of its UTF-8 bytes)."""
    raw = value.reveal() if isinstance(value, Secret) else value
    return hashlib.sha1(raw.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Baseline:
    """What a baseline file accepts. ``kind`` is ``"findings"`` or ``"detect-secrets"``."""

    path: str
    kind: str
    accepted: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (rule, secret_sha256)
    hashed_secrets: frozenset[str] = field(default_factory=frozenset)  # detect-secrets SHA-1s

    @property
    def needs_values(self) -> bool:
        """True when matching needs the secret value (detect-secrets entries): the engine must pass it."""
        return bool(self.hashed_secrets)

    def __len__(self) -> int:
        return len(self.accepted) + len(self.hashed_secrets)

    def suppresses(self, finding: Finding, value: str | Secret | None = None) -> bool:
        """Whether ``finding`` is known and accepted.

        ``value`` is the exact secret value (what ``secret_sha256`` hashes); pass it whenever it is still
        at hand, or detect-secrets entries cannot match. It is hashed, never stored.
        """
        if (finding.rule, finding.secret_sha256) in self.accepted:
            return True
        if value is not None and self.hashed_secrets:
            return sha1_hex(value) in self.hashed_secrets
        return False


def load_baseline(path: str | Path) -> Baseline:
    """Read a findings JSON or detect-secrets baseline; UsageError (one line) if it is neither."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"baseline {p}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"baseline {p}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"baseline {p}: cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"baseline {p}: not valid JSON ({exc.__class__.__name__})") from None
    return parse_baseline(data, str(p))


def parse_baseline(data: Any, name: str = "baseline") -> Baseline:
    """Recognise and parse an already-decoded baseline document."""
    if isinstance(data, dict) and "schema" in data:
        if not (isinstance(data["schema"], str) and data["schema"] in READABLE):
            raise UsageError(f"baseline {name}: unknown schema {str(data['schema'])[:80]!r} (expected {SCHEMA!r})")
        return _from_findings(data, name)
    if isinstance(data, dict) and "results" in data and ("version" in data or "plugins_used" in data):
        return _from_detect_secrets(data, name)
    raise UsageError(f"baseline {name}: neither a git-sanitize findings file nor a detect-secrets baseline")


def _from_findings(data: dict[str, Any], name: str) -> Baseline:
    try:
        report = ScanReport.from_dict(data)
    except UsageError as exc:
        raise UsageError(f"baseline {name}: {exc}") from None
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:  # from_dict is strict; belt and braces
        raise UsageError(f"baseline {name}: malformed findings file ({exc.__class__.__name__})") from None
    return Baseline(path=name, kind="findings",
                    accepted=frozenset((f.rule, f.secret_sha256) for f in report.findings))


def _from_detect_secrets(data: dict[str, Any], name: str) -> Baseline:
    results = data["results"]
    if not isinstance(results, dict):
        raise UsageError(f"baseline {name}: detect-secrets 'results' is not an object of files")
    hashes: set[str] = set()
    for filename, entries in results.items():
        if not isinstance(entries, list):
            raise UsageError(f"baseline {name}: detect-secrets results for {str(filename)[:80]!r} are not a list")
        for i, entry in enumerate(entries):
            where = f"baseline {name}: detect-secrets entry {i} of {str(filename)[:80]!r}"
            if not isinstance(entry, dict):
                raise UsageError(f"{where} is not an object")
            hashed = entry.get("hashed_secret")
            if not (isinstance(hashed, str) and _SHA1.fullmatch(hashed.lower())):
                raise UsageError(f"{where} has no 40-hex 'hashed_secret'")
            if "type" in entry and not isinstance(entry["type"], str):
                raise UsageError(f"{where} has a 'type' that is not a string")
            if entry.get("is_secret") is True:
                continue  # audited as a true secret: it must be purged, not hidden
            hashes.add(hashed.lower())
    return Baseline(path=name, kind="detect-secrets", hashed_secrets=frozenset(hashes))
