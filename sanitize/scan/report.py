"""The findings artifact (schema ``git-sanitize/findings/v2``): the contract between stages.

It never holds a secret value: only ``secret_sha256`` and a preview of at most
4 characters. Later stages that need the value (plan) re-derive it from the
blob and line the finding names.

Refs are listed once (``refs``: name → tip, in order); each finding names the
set of refs that reach it by an index into ``ref_sets``, a table of the distinct
sets, each stored as the shorter of ``{"only": [...]}`` and ``{"all_but": [...]}``
over ref positions (runs as ``[first, last]``). On pallets/flask's 3,671 refs
that took the document from 45 MB (v1: every finding listed every ref) to well
under 1 MB. Older documents are upgraded on read, one module per version
(:mod:`sanitize.scan.upgrades`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import add, ne
from pathlib import Path
from typing import Any, Literal

from sanitize.errors import UsageError
from sanitize.inputs import read_text

SCHEMA = "git-sanitize/findings/v2"
READABLE = ("git-sanitize/findings/v1", SCHEMA)  # what a reader accepts (older ones are upgraded)
Kind = Literal["path", "content", "message", "ref-name", "path-name", "identity"]
# ref-name, path-name, identity: the value is part of a ref name, a path component or an author/committer/
# tagger name or email (scan/names.py); ``name`` then shows where, with the value redacted (sanitize/names.py).
KINDS: tuple[str, ...] = ("path", "content", "message", "ref-name", "path-name", "identity")


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
    context: str = ""  # where it lives: source, test, docs, example, vendored, generated (scan/context.py)
    confidence: str = ""  # high, medium or low (scan/context.py)
    encoding: tuple[str, ...] = ()  # how the value was decoded from the blob, outermost first ("gzip", "base64")
    name: str = ""  # name findings: the ref, path or identity holding the value, shown redacted

    @property
    def place(self) -> str:
        """Where a person looks: the path, the message's object, or the (redacted) name holding the value."""
        if self.kind == "message":
            return f"<message of {(self.commit or '?')[:12]}>"
        if self.name:
            return f"<{self.kind} {self.name}>"
        return self.path or "?"

    @property
    def id(self) -> str:
        """A stable id, independent of line numbers, used by plans and baselines."""
        key = "\0".join([self.rule, self.kind, self.secret_sha256, self.path or "", self.blob or "",
                         self.commit or "" if self.kind == "message" else ""])
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def to_dict(self, ref_set: int) -> dict[str, Any]:
        """The documented JSON object, plus ``id``; ``ref_set`` indexes the document's ``ref_sets``."""
        # Written out by hand: dataclasses.asdict deep-copies and was most of the render time.
        d: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "path": self.path, "blob": self.blob,
                             "commit": self.commit, "line": self.line, "secret_sha256": self.secret_sha256,
                             "preview": self.preview, "ref_set": ref_set}
        if self.context:  # written only when set (scan/context.py)
            d["context"] = self.context
        if self.confidence:
            d["confidence"] = self.confidence
        if self.encoding:  # only for decoded values: how, outermost first
            d["encoding"] = list(self.encoding)
        if self.name:
            d["name"] = self.name
        d["id"] = self.id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], ref_sets: Sequence[tuple[str, ...]] = ()) -> Finding:
        """Parse one finding, its ``ref_set`` resolved against ``ref_sets``; UsageError on a malformed object."""
        try:
            index = d.get("ref_set")
            if index is None:
                refs: tuple[str, ...] = ()
            elif isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(ref_sets):
                raise ValueError(f"ref_set {str(index)[:20]!r} is not an index into ref_sets")
            else:
                refs = ref_sets[index]
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
                refs=refs,
                context=str(d.get("context") or ""),
                confidence=str(d.get("confidence") or ""),
                encoding=tuple(str(e) for e in d.get("encoding", [])),
                name=str(d.get("name") or ""),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise UsageError(f"malformed finding: {exc}") from exc


def _opt_str(v: object) -> str | None:
    return None if v is None else str(v)


def _runs(indices: Sequence[int]) -> list[int | list[int]]:
    """Sorted positions → ints and ``[first, last]`` runs (PR refs sort next to each other); a run
    of two is written as its two ints."""
    n = len(indices)
    if n == 0:
        return []
    # Where a run ends: the positions k with indices[k + 1] != indices[k] + 1 (found by C-level iterators).
    ends = list(compress(range(n - 1), map(ne, indices[1:], map(add, indices, repeat(1)))))
    ends.append(n - 1)
    out: list[int | list[int]] = []
    i = 0
    for j in ends:
        if j - i >= 2:
            out.append([indices[i], indices[j]])
        else:
            out.extend(indices[i:j + 1])
        i = j + 1
    return out


def encode_ref_set(indices: Sequence[int], total: int) -> dict[str, list[int | list[int]]]:
    """The shorter of ``only`` (the positions) and ``all_but`` (the others), out of ``total`` refs."""
    if len(indices) * 2 <= total:
        return {"only": _runs(indices)}
    return {"all_but": _runs(sorted(set(range(total)).difference(indices)))}


def _is_position(x: object, total: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < total


def decode_ref_set(encoded: Any, total: int) -> list[int]:
    """Positions of an encoded ref set; ValueError when it is malformed or out of range."""
    if not isinstance(encoded, dict) or len(encoded) != 1 or not set(encoded) <= {"only", "all_but"}:
        raise ValueError("a ref set is one of {\"only\": [...]} or {\"all_but\": [...]}")
    (key, items), = encoded.items()
    if not isinstance(items, list):
        raise ValueError("a ref set lists positions")
    positions: set[int] = set()
    for item in items:
        if isinstance(item, list) and len(item) == 2:
            first, last = item
        elif isinstance(item, list):
            raise ValueError("a run of ref positions is [first, last]")
        else:
            first = last = item
        if not (_is_position(first, total) and _is_position(last, total) and first <= last):
            raise ValueError(f"ref set position {str(item)[:20]} is not a ref index")
        positions.update(range(first, last + 1))
    return sorted(positions) if key == "only" else [i for i in range(total) if i not in positions]


@dataclass(frozen=True)
class ScanStats:
    """What the scan read and how long it took."""

    commits: int = 0
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    #: Where the time went (``refs``, ``read``/``detect`` summed over workers, ``locate``, ``reachability``, …).
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class ScanReport:
    """The whole findings document."""

    source: str
    refs: dict[str, str]
    stats: ScanStats = field(default_factory=ScanStats)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON document."""
        # A finding's refs are the scan's refs; a hand-made report may name others (listed with no tip).
        # Findings share their refs tuples (one per distinct set): look each object up once.
        distinct = list({id(f.refs): f.refs for f in self.findings}.values())
        names = sorted(set(self.refs).union(*distinct))
        position = {name: i for i, name in enumerate(names)}
        tables: dict[tuple[str, ...], int] = {}
        by_object: dict[int, int] = {}
        encoded: list[dict[str, list[int | list[int]]]] = []
        findings = []
        for f in self.findings:
            index = by_object.get(id(f.refs))
            if index is None:
                key = tuple(f.refs)
                index = tables.get(key)
                if index is None:
                    index = tables[key] = len(encoded)
                    encoded.append(encode_ref_set(sorted(map(position.__getitem__, set(key))), len(names)))
                by_object[id(f.refs)] = index
            findings.append(f.to_dict(index))
        return {
            "schema": SCHEMA,
            "source": self.source,
            "refs": {name: self.refs.get(name) for name in names},
            "stats": {"commits": self.stats.commits, "blobs": self.stats.blobs, "bytes": self.stats.bytes,
                      "seconds": self.stats.seconds, **({"phases": self.stats.phases} if self.stats.phases else {})},
            "ref_sets": encoded,
            "findings": findings,
        }

    def to_json(self) -> str:
        """Stable JSON text: one line per ref, ref set and finding (readable, diffable, and small)."""
        doc = self.to_dict()
        out = []
        for key, value in doc.items():
            if isinstance(value, dict) and value and key == "refs":
                body = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
                out.append(f"  {json.dumps(key)}: {{\n{body}\n  }}")
            elif isinstance(value, list) and value:
                body = ",\n".join(f"    {json.dumps(item, separators=(',', ':'))}" for item in value)
                out.append(f"  {json.dumps(key)}: [\n{body}\n  ]")
            else:
                out.append(f"  {json.dumps(key)}: {json.dumps(value)}")
        return "{\n" + ",\n".join(out) + "\n}\n"

    @classmethod
    def from_dict(cls, d: Any) -> ScanReport:
        """Parse a findings document; UsageError names what is wrong."""
        from sanitize.scan.upgrades import upgrade

        d = upgrade(d)
        try:
            raw_stats = d.get("stats", {})
            stats = ScanStats(**{k: raw_stats.get(k, 0) for k in ("commits", "blobs", "bytes", "seconds")},
                              phases={str(k): float(v) for k, v in (raw_stats.get("phases") or {}).items()})
            table = {str(k): None if v is None else str(v) for k, v in d["refs"].items()}
            names = tuple(table)
            refs = {k: v for k, v in table.items() if v is not None}
            ref_sets = [tuple(names[i] for i in decode_ref_set(s, len(names))) for s in d.get("ref_sets", [])]
            findings = [Finding.from_dict(f, ref_sets) for f in d["findings"]]
            return cls(source=str(d["source"]), refs=refs, stats=stats, findings=findings)
        except (KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"malformed findings file: missing or wrong field {exc}") from exc
        except ValueError as exc:
            raise UsageError(f"malformed findings file: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> ScanReport:
        """Read a findings file; UsageError if missing, unreadable or malformed."""
        p = Path(path)
        try:
            data = json.loads(read_text(p, "findings file"))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{p}: not a readable findings JSON file ({exc.__class__.__name__})") from exc
        return cls.from_dict(data)
