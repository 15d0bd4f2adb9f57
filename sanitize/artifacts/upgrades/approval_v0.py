"""approval v0 → v1: approval files written before they named their schema.

The fields are the same; the signature never covered ``schema``, so old signed
approvals still verify.
"""

from __future__ import annotations

from typing import Any

SCHEMA = None
NEXT = "git-sanitize/approval/v1"


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """The same approval, naming v1."""
    return {**doc, "schema": NEXT}
