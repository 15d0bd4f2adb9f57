"""The plan's actions, typed: delete a path, replace a value, reword a message, rename a name, fix in code.

``plan.json`` keeps them under ``actions`` (``delete_paths``, ``replace``,
``messages``, ``names``) and ``fix_in_code``; each type's ``dump`` is exactly that JSON
object (optional keys only when they apply, so the digest covers what reviewers
read) and ``parse`` validates one, raising :class:`~sanitize.errors.UsageError`.
None of them holds a secret value: hashes and ≤4-character previews only.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from sanitize.artifacts.fields import int_field as _int
from sanitize.artifacts.fields import names as _names
from sanitize.artifacts.fields import obj as _object
from sanitize.artifacts.fields import text as _text
from sanitize.errors import UsageError


@dataclass(frozen=True)
class DeletePath:
    """Delete ``path`` from every commit of history."""

    path: str
    finding_ids: tuple[str, ...]
    found: str = ""                                   # why: "held the flagged file", "renamed from …"
    secret_sha256s: tuple[str, ...] | None = None     # values visible only after decoding the blob it held

    def dump(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "finding_ids": list(self.finding_ids), "found": self.found}
        if self.secret_sha256s is not None:
            out["secret_sha256s"] = list(self.secret_sha256s)
        return out

    @classmethod
    def parse(cls, d: object, where: str) -> DeletePath:
        m = _object(d, where)
        return cls(path=_text(m, "path", where), finding_ids=_names(m, "finding_ids", where),
                   found=_text(m, "found", where, default=""),
                   secret_sha256s=_names(m, "secret_sha256s", where) if "secret_sha256s" in m else None)


@dataclass(frozen=True)
class Replacement:
    """Replace one secret value (in each literal form it has in the blobs) with the marker, in every file."""

    secret_sha256: str
    preview: str
    rule: str
    finding_ids: tuple[str, ...]
    rules: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    blobs: int = 0                                    # blobs holding it at scan time
    short: bool = False                               # shorter than plan.SHORT_VALUE: may touch innocent text
    literal_sha256s: tuple[str, ...] | None = None    # its escaped/encoded forms, when not the value itself
    encoding: tuple[str, ...] | None = None           # how those forms were found ("base64", "json", …)

    def dump(self) -> dict[str, object]:
        out: dict[str, object] = {
            "secret_sha256": self.secret_sha256, "preview": self.preview, "rule": self.rule,
            "rules": list(self.rules), "finding_ids": list(self.finding_ids), "paths": list(self.paths),
            "blobs": self.blobs, "short": self.short}
        if self.literal_sha256s is not None:
            out["literal_sha256s"] = list(self.literal_sha256s)
        if self.encoding is not None:
            out["encoding"] = list(self.encoding)
        return out

    @property
    def literals(self) -> tuple[str, ...]:
        """The SHA-256 of each literal plan.secrets holds for this value."""
        return self.literal_sha256s or (self.secret_sha256,)

    @classmethod
    def parse(cls, d: object, where: str) -> Replacement:
        m = _object(d, where)
        rule = _text(m, "rule", where)
        return cls(secret_sha256=_text(m, "secret_sha256", where), preview=_text(m, "preview", where), rule=rule,
                   finding_ids=_names(m, "finding_ids", where),
                   rules=_names(m, "rules", where) if "rules" in m else (rule,),
                   paths=_names(m, "paths", where) if "paths" in m else (),
                   blobs=_int(m, "blobs", where), short=m.get("short") is True,
                   literal_sha256s=_names(m, "literal_sha256s", where) if "literal_sha256s" in m else None,
                   encoding=_names(m, "encoding", where) if "encoding" in m else None)


@dataclass(frozen=True)
class MessageRewrite:
    """Reword the message of one commit or tag: its secret values become the marker."""

    object: str                                       # the commit or tag id
    finding_ids: tuple[str, ...]
    secret_sha256s: tuple[str, ...]
    rules: tuple[str, ...] = ()
    literal_sha256s: tuple[str, ...] | None = None

    def dump(self) -> dict[str, builtins.object]:
        out: dict[str, builtins.object] = {"object": self.object, "finding_ids": list(self.finding_ids),
                                  "secret_sha256s": list(self.secret_sha256s), "rules": list(self.rules)}
        if self.literal_sha256s is not None:
            out["literal_sha256s"] = list(self.literal_sha256s)
        return out

    @property
    def literals(self) -> tuple[str, ...]:
        """The SHA-256 of each literal plan.secrets holds for this message."""
        return self.literal_sha256s or self.secret_sha256s

    @classmethod
    def parse(cls, d: builtins.object, where: str) -> MessageRewrite:
        m = _object(d, where)
        return cls(object=_text(m, "object", where), finding_ids=_names(m, "finding_ids", where),
                   secret_sha256s=_names(m, "secret_sha256s", where),
                   rules=_names(m, "rules", where) if "rules" in m else (),
                   literal_sha256s=_names(m, "literal_sha256s", where) if "literal_sha256s" in m else None)


@dataclass(frozen=True)
class FixInCode:
    """A hardcoded fallback default still at a branch tip: after the rewrite it falls back to the marker."""

    path: str
    line: int
    rule: str
    ref: str
    finding_id: str | None = None

    def dump(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "line": self.line, "rule": self.rule, "ref": self.ref}
        if self.finding_id is not None:
            out["finding_id"] = self.finding_id
        return out

    @classmethod
    def parse(cls, d: object, where: str) -> FixInCode:
        m = _object(d, where)
        return cls(path=_text(m, "path", where), line=_int(m, "line", where, required=True),
                   rule=_text(m, "rule", where), ref=_text(m, "ref", where),
                   finding_id=_text(m, "finding_id", where) if "finding_id" in m else None)


@dataclass(frozen=True)
class Rename:
    """One name that holds the value, shown redacted, and the name it gets."""

    kind: str                                         # ref-name, path-name, identity
    what: str                                         # the kind in words, for plan.md
    old: str                                          # shown: the value as [redacted:<sha12>]
    new: str

    def dump(self) -> dict[str, object]:
        return {"kind": self.kind, "what": self.what, "old": self.old, "new": self.new}

    @classmethod
    def parse(cls, d: object, where: str) -> Rename:
        m = _object(d, where)
        kind = _text(m, "kind", where)
        return cls(kind=kind, what=_text(m, "what", where, default=kind), old=_text(m, "old", where),
                   new=_text(m, "new", where))


@dataclass(frozen=True)
class NameRename:
    """A value in ref names, paths or identities: every name holding it is renamed (:mod:`sanitize.names`),
    and the value is replaced in files and messages too."""

    secret_sha256: str
    preview: str
    rules: tuple[str, ...]
    kinds: tuple[str, ...]
    finding_ids: tuple[str, ...]
    shown: str                                        # [redacted:<sha12>]
    new: str                                          # redacted-<sha12>
    renames: tuple[Rename, ...]

    def dump(self) -> dict[str, object]:
        return {"secret_sha256": self.secret_sha256, "preview": self.preview, "rules": list(self.rules),
                "kinds": list(self.kinds), "finding_ids": list(self.finding_ids), "shown": self.shown,
                "new": self.new, "renames": [r.dump() for r in self.renames]}

    @classmethod
    def parse(cls, d: object, where: str) -> NameRename:
        m = _object(d, where)
        renames = m.get("renames")
        if not isinstance(renames, list):
            raise UsageError(f"{where}: 'renames' must be a list")
        return cls(secret_sha256=_text(m, "secret_sha256", where), preview=_text(m, "preview", where, default=""),
                   rules=_names(m, "rules", where) if "rules" in m else (),
                   kinds=_names(m, "kinds", where) if "kinds" in m else (),
                   finding_ids=_names(m, "finding_ids", where), shown=_text(m, "shown", where),
                   new=_text(m, "new", where),
                   renames=tuple(Rename.parse(r, f"{where}.renames[{n}]") for n, r in enumerate(renames)))
