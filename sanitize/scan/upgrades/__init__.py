"""Older findings documents, upgraded on read: one module per schema version.

Each module turns a document of its version into the next version's shape;
:func:`upgrade` chains them, so a reader only ever parses the current schema.
"""

from __future__ import annotations

from typing import Any

from sanitize.errors import UsageError
from sanitize.scan.upgrades import v1

CURRENT = "git-sanitize/findings/v2"
_STEPS = {v1.SCHEMA: v1.upgrade}


def upgrade(doc: Any) -> dict[str, Any]:
    """``doc`` in the current schema; UsageError for a document that is not a findings file."""
    if not isinstance(doc, dict):
        raise UsageError("findings file is not a JSON object")
    seen = 0
    while doc.get("schema") != CURRENT:
        step = _STEPS.get(doc.get("schema"))  # type: ignore[arg-type]
        if step is None or seen > len(_STEPS):
            raise UsageError(f"findings file has schema {str(doc.get('schema'))[:80]!r}, expected {CURRENT!r}")
        doc = step(doc)
        seen += 1
    result: dict[str, Any] = doc
    return result
