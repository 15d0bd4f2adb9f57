"""rewrite record v0 → v1: the untyped state.json record rewrite wrote before it had a schema.

Records of that time may lack ``first_changed_commits`` (then: the first changed
commit of each ref) and ``blast_radius`` (then: the numbers the record itself gives);
every other field they always had, and a record without one is malformed.
"""

from __future__ import annotations

from typing import Any

SCHEMA = None
NEXT = "git-sanitize/rewrite-record/v1"


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """The same record in v1's shape: every field present."""
    out = dict(doc)
    first = out.get("first_changed")
    if "first_changed_commits" not in out and isinstance(first, dict):
        out["first_changed_commits"] = sorted({str(c) for c in first.values()})
    if not isinstance(out.get("blast_radius"), dict):
        at_scan, after = out.get("tips_at_scan"), out.get("rewritten_tips")
        if isinstance(at_scan, dict) and isinstance(after, dict):
            moved = {r: 0 for r, old in at_scan.items() if after.get(r) != old}
            out["blast_radius"] = {"commits_changing": len(out.get("old_commits") or []),
                                   "refs_total": len(at_scan), "refs_changing": moved,
                                   "refs_untouched": len(at_scan) - len(moved)}
    out["schema"] = NEXT
    return out
