"""Field readers for the artifacts' JSON objects: each checks one field's type and names it in a UsageError.

``where`` is the place in the document (``plan.json: actions.replace[2]``), so a malformed
artifact is one line a person can act on.
"""

from __future__ import annotations

from collections.abc import Mapping

from sanitize.errors import UsageError


def obj(d: object, where: str) -> Mapping[str, object]:
    """``d`` as a JSON object."""
    if not isinstance(d, dict):
        raise UsageError(f"{where}: must be a JSON object")
    return d


def text(m: Mapping[str, object], key: str, where: str, *, default: str | None = None) -> str:
    """A string field (``default`` when absent, if given)."""
    value = m.get(key, default)
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key!r} must be a string")
    return value


def names(m: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    """A list-of-strings field."""
    value = m.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key!r} must be a list of strings")
    return tuple(str(v) for v in value)


def int_field(m: Mapping[str, object], key: str, where: str, *, required: bool = False) -> int:
    """An integer field (0 when absent unless ``required``)."""
    value = m.get(key, None if required else 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{where}: {key!r} must be an integer")
    return value


def list_field(m: Mapping[str, object], key: str, where: str) -> list[object]:
    """A list field."""
    value = m.get(key)
    if not isinstance(value, list):
        raise UsageError(f"{where}: {key!r} must be a list")
    return value
