"""Approvals: the gate before the force-push.

An approval names the exact plan digest and the rewritten ref tips it was
given for, who gave it and until when it holds. It is one JSON file in
``WORKDIR/approvals/`` plus a record in the append-only audit log. An approval
stops counting when it expires, when the plan digest changes (a new plan) or
when the rewritten tips change (a new rewrite): people approve what they saw.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sanitize import git
from sanitize.errors import UsageError
from sanitize.workdir import Workdir, write_atomic

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Approval:
    """One person's approval of one plan digest and one set of rewritten tips."""

    approver: str
    digest: str
    rewritten_tips: dict[str, str]
    created: str   # ISO-8601 UTC
    expires: str   # ISO-8601 UTC

    def expired(self, now: datetime | None = None) -> bool:
        """True once ``expires`` has passed."""
        return (now or datetime.now(UTC)) >= datetime.fromisoformat(self.expires)

    def to_json(self) -> str:
        """The approval file's content."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Approval:
        """Parse an approval file; ValueError/KeyError/TypeError on a malformed one."""
        tips = data["rewritten_tips"]
        if not isinstance(tips, dict):
            raise TypeError("rewritten_tips must be a mapping")
        approval = cls(approver=str(data["approver"]), digest=str(data["digest"]),
                       rewritten_tips={str(k): str(v) for k, v in tips.items()},
                       created=str(data["created"]), expires=str(data["expires"]))
        datetime.fromisoformat(approval.expires)
        return approval


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` → a positive timedelta; UsageError otherwise."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"--expires {text!r}: use a positive duration such as 30m, 24h or 7d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def rewrite_detail(wd: Workdir) -> dict[str, Any]:
    """The finished rewrite's state detail; UsageError if rewrite has not completed."""
    rec = wd.stage("rewrite")
    if rec.get("status") != "done" or not rec.get("plan_digest"):
        raise UsageError(f"{wd.root}: rewrite has not completed in this workdir; run rewrite first")
    return rec


def current_digest(wd: Workdir) -> str:
    """The plan digest the rewrite used; UsageError if plan.json no longer matches it."""
    rec = rewrite_detail(wd)
    digest = str(rec["plan_digest"])
    if wd.plan.is_file():
        try:
            on_disk = json.loads(wd.plan.read_text(encoding="utf-8")).get("digest")
        except (OSError, json.JSONDecodeError, AttributeError) as exc:
            raise UsageError(f"{wd.plan}: unreadable plan") from exc
        if on_disk != digest:
            raise UsageError(f"{wd.plan}: the plan changed after the rewrite (digest differs); rewrite again")
    return digest


def current_tips(wd: Workdir) -> dict[str, str]:
    """Rewritten tips as recorded by rewrite; UsageError if mirror.git has moved since."""
    recorded = {str(k): str(v) for k, v in (rewrite_detail(wd).get("rewritten_tips") or {}).items()}
    if wd.mirror.is_dir():
        actual = git.refs(wd.mirror)
        if actual != recorded:
            moved = sorted(set(actual.items()) ^ set(recorded.items()))
            raise UsageError(f"{wd.mirror}: refs differ from the recorded rewrite ({moved[0][0]} …); rewrite again")
    return recorded


def approve(workdir: str | os.PathLike[str], *, approver: str, digest: str, expires: str = "24h",
            now: datetime | None = None) -> Approval:
    """Record ``approver``'s approval of ``digest`` and the current rewritten tips.

    UsageError (exit 2) for a digest other than the rewritten plan's, an empty
    approver name or a bad duration; nothing is written then.
    """
    wd = Workdir.open(workdir)
    name = approver.strip()
    if not name:
        raise UsageError("--approver must name a person")
    expected = current_digest(wd)
    if digest.strip().lower() != expected:
        wd.audit.append("approval-refused", approver=name, digest=digest.strip()[:12], reason="wrong digest")
        raise UsageError(f"digest {digest.strip()[:12]}… is not the rewritten plan's digest {expected[:12]}…; "
                         "approve what was reviewed (see plan.json 'digest')")
    tips = current_tips(wd)
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    approval = Approval(approver=name, digest=expected, rewritten_tips=tips, created=created.isoformat(),
                        expires=(created + parse_duration(expires)).isoformat())
    wd.approvals.mkdir(mode=0o700, exist_ok=True)
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    path = wd.approvals / f"{stamp}-{_NAME.sub('_', name)[:40]}.json"
    n = 1
    while path.exists():
        n += 1
        path = wd.approvals / f"{stamp}-{_NAME.sub('_', name)[:40]}-{n}.json"
    write_atomic(path, approval.to_json())
    from sanitize.blast_radius import record_summary

    changing = record_summary(rewrite_detail(wd))
    wd.audit.append("approved", approver=name, digest=expected, rewritten_tips=tips, expires=approval.expires,
                    file=path.name, commits_changing=changing.get("commits_changing"),
                    refs_changing=sorted(changing.get("refs_changing") or {}))
    # The gate opens ("done") only with the quorum a playbook asked for; push re-checks regardless.
    approvers = sorted({a.approver for a in valid_approvals(wd.root, now=now)})
    required = int(wd.meta().get("approvals_required", 1))
    wd.record("approve", "done" if len(approvers) >= required else "waiting", approvers=approvers,
              required=required, digest=expected)
    return approval


def describe_approval(workdir: str | os.PathLike[str], approval: Approval) -> str:
    """What was approved, in the rewrite record's own numbers (the ones plan, report and notices state)."""
    from sanitize.blast_radius import describe, record_summary

    summary = record_summary(rewrite_detail(Workdir.open(workdir)))
    return f"approved by {approval.approver} for plan {approval.digest[:12]}…: {describe(summary)}"


def load_approvals(workdir: str | os.PathLike[str]) -> list[Approval]:
    """Every approval file in the workdir, valid or not; UsageError on a corrupt one."""
    root = Path(workdir) / "approvals"
    result: list[Approval] = []
    if not root.is_dir():
        return result
    for path in sorted(root.glob("*.json")):
        try:
            result.append(Approval.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: corrupt approval file; remove it and approve again") from exc
    return result


def valid_approvals(workdir: str | os.PathLike[str], *, now: datetime | None = None) -> list[Approval]:
    """Approvals that still count: not expired, same digest, same rewritten tips as now."""
    wd = Workdir.open(workdir)
    digest = current_digest(wd)
    tips = current_tips(wd)
    return [a for a in load_approvals(wd.root)
            if not a.expired(now) and a.digest == digest and a.rewritten_tips == tips]


def quorum(approvals: list[Approval]) -> set[str]:
    """Distinct approvers (one person approving twice counts once)."""
    return {a.approver.casefold() for a in approvals}
