"""The findings artifact (schema ``git-sanitize/findings/v1``): the contract between stages.

It never holds a secret value: only ``secret_sha256`` and a preview of at most
4 characters. Later stages that need the value (plan) re-derive it from the
blob and line the finding names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sanitize.errors import UsageError
from sanitize.inputs import read_text

SCHEMA = "git-sanitize/findings/v1"
Kind = Literal["path", "content", "message"]
KINDS: tuple[str, ...] = ("path", "content", "message")


@dataclass(frozen=True)
class Finding:
    """One secret (or secret-bearing file) at one place in history.

    ``commit`` is the first commit that introduced it; ``refs`` the refs that
    reach it. For ``kind == "message"`` ``blob`` and ``path`` are None and
    ``commit`` names the commit or annotated tag object holding the message.
    """

    rule: str
    kind: Kind
    path: str | None
    blob: str | None
    commit: str | None
    line: int | None
    secret_sha256: str
    preview: str
    refs: tuple[str, ...] = ()
    encoding: tuple[str, ...] = ()  # how the value was decoded from the blob, outermost first ("gzip", "base64")

    @property
    def id(self) -> str:
        """A stable id, independent of line numbers, used by plans and baselines."""
        key = "\0".join([self.rule, self.kind, self.secret_sha256, self.path or "", self.blob or "",
                         self.commit or "" if self.kind == "message" else ""])
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object, plus ``id``."""
        d = asdict(self)
        d["refs"] = list(self.refs)
        if self.encoding:
            d["encoding"] = list(self.encoding)
        else:
            del d["encoding"]
        d["id"] = self.id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Parse one finding; UsageError on a malformed object."""
        try:
            kind = d["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            sha = d["secret_sha256"]
            if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
                raise ValueError("secret_sha256 is not a hex SHA-256")
            line = d.get("line")
            if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
                raise ValueError("line must be a positive integer")
            return cls(
                rule=str(d["rule"]),
                kind=kind,
                path=_opt_str(d.get("path")),
                blob=_opt_str(d.get("blob")),
                commit=_opt_str(d.get("commit")),
                line=line,
                secret_sha256=sha,
                preview=str(d.get("preview", ""))[:5],
                refs=tuple(str(r) for r in d.get("refs", [])),
                encoding=tuple(str(e) for e in d.get("encoding", [])),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise UsageError(f"malformed finding: {exc}") from exc


def _opt_str(v: object) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True)
class ScanStats:
    """What the scan read and how long it took."""

    commits: int = 0
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class ScanReport:
    """The whole findings document."""

    source: str
    refs: dict[str, str]
    stats: ScanStats = field(default_factory=ScanStats)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON document."""
        return {
            "schema": SCHEMA,
            "source": self.source,
            "refs": dict(self.refs),
            "stats": asdict(self.stats),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        """Stable, indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, d: Any) -> ScanReport:
        """Parse a findings document; UsageError names what is wrong."""
        if not isinstance(d, dict):
            raise UsageError("findings file is not a JSON object")
        if d.get("schema") != SCHEMA:
            raise UsageError(f"findings file has schema {d.get('schema')!r}, expected {SCHEMA!r}")
        try:
            stats = ScanStats(**{k: d.get("stats", {}).get(k, 0) for k in ("commits", "blobs", "bytes", "seconds")})
            refs = {str(k): str(v) for k, v in d["refs"].items()}
            findings = [Finding.from_dict(f) for f in d["findings"]]
            return cls(source=str(d["source"]), refs=refs, stats=stats, findings=findings)
        except (KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"malformed findings file: missing or wrong field {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> ScanReport:
        """Read a findings file; UsageError if missing, unreadable or malformed."""
        p = Path(path)
        try:
            data = json.loads(read_text(p, "findings file"))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{p}: not a readable findings JSON file ({exc.__class__.__name__})") from exc
        return cls.from_dict(data)
