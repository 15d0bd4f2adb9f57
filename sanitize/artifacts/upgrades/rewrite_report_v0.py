"""rewrite report v0 → v1: rewrite-report.json written before it named its schema.

The fields are v1's (the report has only grown keys that v1 reads as optional); a report
without one of the fields v1 requires is malformed, and rewriting again writes a new one.
"""

from __future__ import annotations

from typing import Any

SCHEMA = None
NEXT = "git-sanitize/rewrite-report/v1"


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """The same report, naming v1."""
    return {**doc, "schema": NEXT}
