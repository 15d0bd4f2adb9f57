"""A collaborator's local names that hold a leaked value: found by hash, renamed, shown redacted.

The purge renamed every ref whose name held a value (``fix/<token>`` → ``fix/redacted-<sha12>``), but a
clone made before it keeps its own branch under the old name, with the token in ``refs/heads``, its
reflog, ``.git/config`` (``branch.<name>.*``) and every message that names the branch. ``purged.json``
publishes, per value, only its SHA-256, its length and its new name; a local name holds the value where
a substring of that length has that hash. Output shows such a name as ``[redacted:<sha12>]``, as the
purge's own artifacts do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sanitize.names import shown
from sanitize.secret import sha256_hex


@dataclass(frozen=True)
class NameValue:
    """A value a ref name held, as published: its SHA-256, its length in characters, its new name."""

    secret_sha256: str
    length: int
    new: str

    @classmethod
    def load(cls, doc: Mapping[str, Any]) -> NameValue:
        """From one entry of ``purged.json``'s ``names`` (ValueError if it is not one)."""
        sha, length, new = str(doc["secret_sha256"]), int(doc["length"]), str(doc["new"])
        if len(sha) != 64 or length < 1 or not new:
            raise ValueError("not a names entry")
        return cls(sha, length, new)


class LocalNames:
    """Renames and shows the names of one clone by the published values."""

    def __init__(self, values: Iterable[NameValue]) -> None:
        self._values = sorted(set(values), key=lambda v: (-v.length, v.secret_sha256))

    def __bool__(self) -> bool:
        return bool(self._values)

    def _replace(self, name: str, by: Callable[[NameValue], str]) -> str:
        for v in self._values:
            i = 0
            while i + v.length <= len(name):
                if sha256_hex(name[i:i + v.length]) == v.secret_sha256:
                    new = by(v)
                    name = name[:i] + new + name[i + v.length:]
                    i += len(new)
                else:
                    i += 1
        return name

    def rename(self, name: str) -> str:
        """``name`` with every published value replaced by its new name (what the server now has)."""
        return self._replace(name, lambda v: v.new) if self._values else name

    def show(self, name: str) -> str:
        """``name`` fit for output: every published value shown redacted."""
        return self._replace(name, lambda v: shown(v.secret_sha256)) if self._values else name

    def holds(self, name: str) -> bool:
        """True when ``name`` holds a published value."""
        return self.rename(name) != name
