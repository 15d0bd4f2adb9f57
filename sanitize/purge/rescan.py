"""What a rescan of rewritten history still finds, and why each finding remains.

The rewrite's own check and ``verify`` rescan with the plan's rules. A finding the
plan removes is a failure; every other finding is still reported, sorted by why it
is there (held back for review, dropped as a false positive, or never in the plan),
so nobody reads "clean" as "nothing left".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sanitize.artifacts.plan_review import Dropped, HeldBack
from sanitize.scan.report import Finding

SHOWN = 20  # findings listed per group; the counts are always complete


@dataclass(frozen=True)
class Remaining:
    """Every finding of a rescan, grouped by what the plan decided about it."""

    planned: tuple[Finding, ...]    # the plan removes these: any one is a failed rewrite
    held_back: tuple[Finding, ...]  # low-confidence values the plan left for review (plan --include)
    dropped: tuple[Finding, ...]    # rejected by the reviewer (plan --drop)
    unplanned: tuple[Finding, ...]  # the plan never saw them: review, and plan again if they are real

    @classmethod
    def of(cls, findings: Iterable[Finding], *, planned_sha256s: set[str], planned_paths: set[str],
           held_back: Sequence[HeldBack] = (), dropped: Sequence[Dropped] = ()) -> Remaining:
        """Group ``findings`` by the plan's decisions (its ``held_back`` and ``dropped`` records)."""
        held = {h.secret_sha256 for h in held_back}
        rejected = {d.secret_sha256 for d in dropped if d.secret_sha256}
        groups: dict[str, list[Finding]] = {"planned": [], "held_back": [], "dropped": [], "unplanned": []}
        for f in findings:
            if f.secret_sha256 in planned_sha256s or (f.kind == "path" and f.path in planned_paths):
                groups["planned"].append(f)
            elif f.secret_sha256 in held:
                groups["held_back"].append(f)
            elif f.secret_sha256 in rejected:
                groups["dropped"].append(f)
            else:
                groups["unplanned"].append(f)
        return cls(**{k: tuple(v) for k, v in groups.items()})

    @property
    def total(self) -> int:
        return len(self.planned) + len(self.held_back) + len(self.dropped) + len(self.unplanned)

    def describe(self) -> str:
        """One line: how many findings remain, and why."""
        if not self.total:
            return "the rescan finds nothing"
        parts = [f"{len(g)} {label}" for g, label in (
            (self.planned, "the plan removes (FAILED)"), (self.held_back, "held back for review"),
            (self.dropped, "dropped as false positives"), (self.unplanned, "not in the plan")) if g]
        values = len({f.secret_sha256 for group in (self.held_back, self.dropped, self.unplanned) for f in group})
        return f"the rescan still finds {self.total} finding(s) of {values} value(s): {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        """Counts per group and the first findings of each (hashes and previews only)."""
        def shown(group: tuple[Finding, ...]) -> list[dict[str, Any]]:
            return [{"rule": f.rule, "kind": f.kind, "path": f.path, "context": f.context, "preview": f.preview,
                     "secret_sha256": f.secret_sha256} for f in group[:SHOWN]]

        return {"total": self.total, **{name: {"count": len(g), "values": len({f.secret_sha256 for f in g}),
                                               "first": shown(g)}
                                        for name, g in (("planned", self.planned), ("held_back", self.held_back),
                                                        ("dropped", self.dropped), ("unplanned", self.unplanned))}}
