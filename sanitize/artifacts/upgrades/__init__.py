"""Older artifact documents, upgraded on read: one module per artifact and schema version.

Each module turns a document of its version into the next version's shape;
:func:`upgrade` chains them, so a reader only ever parses the current schema.
A document without a ``schema`` key is version 0: written before the artifact
had a type (the field is ``None`` in the step table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sanitize.errors import UsageError

Step = Callable[[dict[str, Any]], dict[str, Any]]


def upgrade(doc: object, current: str, steps: Mapping[str | None, Step], what: str) -> dict[str, Any]:
    """``doc`` in the ``current`` schema; UsageError (one line naming ``what``) for anything else."""
    if not isinstance(doc, dict):
        raise UsageError(f"{what} is not a JSON object")
    seen = 0
    while doc.get("schema") != current:
        schema = doc.get("schema")
        step = steps.get(schema) if schema is None or isinstance(schema, str) else None
        if step is None or seen > len(steps):
            raise UsageError(f"{what} has schema {str(schema)[:80]!r}, expected {current!r}")
        doc = step(doc)
        seen += 1
    return doc
