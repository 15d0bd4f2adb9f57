"""Secret values as a type, so a stray f-string or log line cannot print one."""

from __future__ import annotations

import hashlib

REDACTED = "***"


def sha256_hex(data: str | bytes) -> str:
    """Hex SHA-256 of a value (str is UTF-8 encoded): the findings' ``secret_sha256``."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


def preview_of(value: str) -> str:
    """At most 4 leading characters, fewer for short values, then an ellipsis.

    A quarter of the value at most, so a short password is not half-disclosed.
    """
    shown = min(4, len(value) // 4)
    return value[:shown] + "…"


class Secret:
    """A secret value whose ``str``/``repr``/format redact it.

    Call :meth:`reveal` at the single place the value must leave the process
    (a replace-text file, a store write, a database verifier).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = value

    def reveal(self) -> str:
        """The plain value. Never pass it to print, logging or an exception."""
        return self._value

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the value (UTF-8)."""
        return sha256_hex(self._value)

    @property
    def preview(self) -> str:
        """A redacted preview, at most 4 characters of the value."""
        return preview_of(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Allows passing to worker processes; pickles never reach disk.
        return (Secret, (self._value,))
