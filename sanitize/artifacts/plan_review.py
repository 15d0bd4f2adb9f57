"""The plan's review sections, typed: values held back, findings dropped, and the fail-closed edits.

plan.json keeps them at its top level (``held_back``, ``dropped``, ``fail_closed``; schema
``git-sanitize/plan/v1``). Each type's ``dump`` is exactly that JSON object and ``parse``
validates one, raising :class:`~sanitize.errors.UsageError` with the place. None of them
holds a secret value: hashes, ≤4-character previews, and diffs with every value masked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanitize.artifacts.fields import list_field as _list
from sanitize.artifacts.fields import names as _names
from sanitize.artifacts.fields import obj as _object
from sanitize.artifacts.fields import text as _text
from sanitize.errors import UsageError


@dataclass(frozen=True)
class HeldBack:
    """A low-confidence value the default plan leaves in history, and the option that plans it."""

    secret_sha256: str
    preview: str
    rules: tuple[str, ...]
    contexts: tuple[str, ...]      # test, doc, example, vendored
    confidence: tuple[str, ...]
    finding_ids: tuple[str, ...]
    paths: tuple[str, ...]
    include: str                   # "--include FINDING_ID"
    reason: str

    def dump(self) -> dict[str, object]:
        return {"secret_sha256": self.secret_sha256, "preview": self.preview, "rules": list(self.rules),
                "contexts": list(self.contexts), "confidence": list(self.confidence),
                "finding_ids": list(self.finding_ids), "paths": list(self.paths), "include": self.include,
                "reason": self.reason}

    @classmethod
    def parse(cls, d: object, where: str) -> HeldBack:
        m = _object(d, where)
        return cls(secret_sha256=_text(m, "secret_sha256", where), preview=_text(m, "preview", where),
                   rules=_names(m, "rules", where), contexts=_names(m, "contexts", where),
                   confidence=_names(m, "confidence", where), finding_ids=_names(m, "finding_ids", where),
                   paths=_names(m, "paths", where), include=_text(m, "include", where),
                   reason=_text(m, "reason", where))


@dataclass(frozen=True)
class Dropped:
    """A finding the reviewer rejected as a false positive (``plan --drop``)."""

    finding_id: str
    rule: str
    kind: str                      # path, content, message
    path: str | None
    preview: str
    secret_sha256: str             # so a rescan can tell a dropped value from a new one
    context: str
    confidence: str
    reason: str

    def dump(self) -> dict[str, object]:
        return {"finding_id": self.finding_id, "rule": self.rule, "kind": self.kind, "path": self.path,
                "preview": self.preview, "secret_sha256": self.secret_sha256, "context": self.context,
                "confidence": self.confidence, "reason": self.reason}

    @classmethod
    def parse(cls, d: object, where: str) -> Dropped:
        m = _object(d, where)
        path = m.get("path")
        if path is not None and not isinstance(path, str):
            raise UsageError(f"{where}: 'path' must be a string or null")
        return cls(finding_id=_text(m, "finding_id", where), rule=_text(m, "rule", where),
                   kind=_text(m, "kind", where), path=path, preview=_text(m, "preview", where, default=""),
                   secret_sha256=_text(m, "secret_sha256", where), context=_text(m, "context", where, default=""),
                   confidence=_text(m, "confidence", where, default=""), reason=_text(m, "reason", where))


@dataclass(frozen=True)
class FailClosedFix:
    """One tip file the rewrite edits so its fallback defaults stop the process when the variable is unset."""

    ref: str
    path: str
    lines: tuple[int, ...]
    names: tuple[str, ...]         # the environment variables that become required
    rules: tuple[str, ...]
    diff: str                      # values masked

    def dump(self) -> dict[str, object]:
        return {"ref": self.ref, "path": self.path, "lines": list(self.lines), "names": list(self.names),
                "rules": list(self.rules), "diff": self.diff}

    @classmethod
    def parse(cls, d: object, where: str) -> FailClosedFix:
        m = _object(d, where)
        lines = m.get("lines")
        if not isinstance(lines, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in lines):
            raise UsageError(f"{where}: 'lines' must be a list of line numbers")
        return cls(ref=_text(m, "ref", where), path=_text(m, "path", where), lines=tuple(lines),
                   names=_names(m, "names", where), rules=_names(m, "rules", where), diff=_text(m, "diff", where))


@dataclass(frozen=True)
class ByHand:
    """A tip fallback no rule can make fail closed: the push waits until someone acknowledges its path."""

    ref: str
    path: str
    line: int
    rule: str
    finding_id: str | None
    reason: str

    def dump(self) -> dict[str, object]:
        return {"ref": self.ref, "path": self.path, "line": self.line, "rule": self.rule,
                "finding_id": self.finding_id, "reason": self.reason}

    @classmethod
    def parse(cls, d: object, where: str) -> ByHand:
        m = _object(d, where)
        line, finding = m.get("line"), m.get("finding_id")
        if not isinstance(line, int) or isinstance(line, bool):
            raise UsageError(f"{where}: 'line' must be an integer")
        if finding is not None and not isinstance(finding, str):
            raise UsageError(f"{where}: 'finding_id' must be a string or null")
        return cls(ref=_text(m, "ref", where), path=_text(m, "path", where), line=line, rule=_text(m, "rule", where),
                   finding_id=finding, reason=_text(m, "reason", where))


@dataclass(frozen=True)
class FailClosed:
    """The plan's ``fail_closed`` section: variables made required everywhere, the tip edits, what is left by hand."""

    names: tuple[str, ...] = ()
    fixes: tuple[FailClosedFix, ...] = ()
    by_hand: tuple[ByHand, ...] = ()

    def dump(self) -> dict[str, object]:
        return {"names": list(self.names), "fixes": [f.dump() for f in self.fixes],
                "by_hand": [b.dump() for b in self.by_hand]}

    @classmethod
    def parse(cls, d: object, where: str) -> FailClosed:
        m = _object(d, where)
        return cls(names=_names(m, "names", where),
                   fixes=tuple(FailClosedFix.parse(f, f"{where}.fixes[{n}]") for n, f in enumerate(_list(m, "fixes",
                                                                                                          where))),
                   by_hand=tuple(ByHand.parse(b, f"{where}.by_hand[{n}]")
                                 for n, b in enumerate(_list(m, "by_hand", where))))
