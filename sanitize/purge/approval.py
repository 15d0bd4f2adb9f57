"""Approvals: the gate before the force-push.

An approval names the exact plan digest and the rewritten ref tips it was
given for, who gave it and until when it holds. It is one JSON file in
``WORKDIR/approvals/`` plus a record in the append-only audit log. An approval
stops counting when it expires, when the plan digest changes (a new plan) or
when the rewritten tips change (a new rewrite): people approve what they saw.
It counts for the principal whose SSH key signed it (``approve --key``, checked
against the playbook's ``allowed_signers``), or, only where the playbook accepts
unsigned approvals, for the typed name. :func:`judge` is the one counting rule.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sanitize.artifacts import rewrite_record
from sanitize.artifacts.rewrite_record import RewriteRecord
from sanitize.artifacts.upgrades import Step, approval_v0, upgrade
from sanitize.errors import UsageError
from sanitize.purge import signing
from sanitize.shellquote import quote
from sanitize.workdir import Workdir, write_atomic

SCHEMA = "git-sanitize/approval/v1"
_STEPS: dict[str | None, Step] = {approval_v0.SCHEMA: approval_v0.upgrade}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_EXPIRY = timedelta(days=30)


@dataclass(frozen=True)
class ApprovalPolicy:
    """How approvals are checked: against an ``allowed_signers`` file, and whether unsigned ones count.

    Set by the playbook (``approvals: {allowed_signers: FILE, unsigned: true}``) or by
    ``push --allowed-signers/--allow-unsigned``; kept in the workdir's state so every
    stage counts the same way.
    """

    allowed_signers: Path | None = None
    unsigned: bool = False

    def to_meta(self) -> dict[str, object]:
        """The JSON form kept in state.json."""
        return {"allowed_signers": str(self.allowed_signers) if self.allowed_signers else None,
                "unsigned": self.unsigned}

    @classmethod
    def from_meta(cls, data: Any) -> ApprovalPolicy | None:
        """The recorded policy, or None when no playbook or command set one."""
        if not isinstance(data, dict):
            return None
        signers = data.get("allowed_signers")
        return cls(allowed_signers=Path(signers) if isinstance(signers, str) else None,
                   unsigned=data.get("unsigned") is True)

    def describe(self) -> str:
        """One phrase for messages."""
        if self.allowed_signers and self.unsigned:
            return f"signed by a key in {self.allowed_signers}, or unsigned"
        if self.allowed_signers:
            return f"signed by a key in {self.allowed_signers}"
        return "unsigned (names as given)" if self.unsigned else "none can count (no allowed_signers)"


def normalize_name(name: str) -> str:
    """The one comparison form of an approver: "Dana  Reyes" and "dana reyes" are one person."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def _aware(text: str, what: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no time zone")
    return when


@dataclass(frozen=True)
class Approval:
    """One person's approval of one plan digest and one set of rewritten tips."""

    approver: str
    digest: str
    rewritten_tips: dict[str, str]
    created: str   # ISO-8601 with a time zone (UTC)
    expires: str   # ISO-8601 with a time zone (UTC)
    signature: str | None = None  # armored SSH signature over payload()

    def expired(self, now: datetime | None = None) -> bool:
        """True once ``expires`` has passed."""
        return (now or datetime.now(UTC)) >= _aware(self.expires, "expires")

    def payload(self) -> bytes:
        """The exact bytes a signature covers: everything but the signature, canonically encoded."""
        body = {"approver": self.approver, "digest": self.digest, "rewritten_tips": self.rewritten_tips,
                "created": self.created, "expires": self.expires, "namespace": signing.NAMESPACE}
        return (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")

    def to_json(self) -> str:
        """The approval file's content (schema ``git-sanitize/approval/v1``)."""
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=2, sort_keys=True) + "\n"

    dump = to_json

    @classmethod
    def from_dict(cls, data: Any) -> Approval:
        """Parse an approval file (any schema version); ValueError/KeyError/TypeError on a malformed one."""
        try:
            data = upgrade(data, SCHEMA, _STEPS, "approval file")
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        tips = data["rewritten_tips"]
        if not isinstance(tips, dict):
            raise TypeError("rewritten_tips must be a mapping")
        signature = data.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise TypeError("signature must be a string")
        approval = cls(approver=str(data["approver"]), digest=str(data["digest"]),
                       rewritten_tips={str(k): str(v) for k, v in tips.items()},
                       created=str(data["created"]), expires=str(data["expires"]), signature=signature)
        _aware(approval.created, "created")
        _aware(approval.expires, "expires")
        return approval


@dataclass(frozen=True)
class Verdict:
    """Whether one approval file counts, and for whom."""

    file: str
    approval: Approval
    identity: str | None  # who it counts for (a verified principal, or a normalised name); None: it does not
    reason: str = ""      # why it does not count

    @property
    def counts(self) -> bool:
        return self.identity is not None


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` → a positive timedelta; UsageError otherwise."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"--expires {text[:40]!r}: use a positive duration such as 30m, 24h or 7d")
    try:
        span = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    except OverflowError:
        span = MAX_EXPIRY * 2
    if span > MAX_EXPIRY:
        raise UsageError(f"--expires {text[:40]!r}: at most {MAX_EXPIRY.days}d; an approval is for one purge")
    return span


def policy_of(wd: Workdir, override: ApprovalPolicy | None = None) -> ApprovalPolicy:
    """The policy to count with: ``override`` (command-line options), else the one the playbook recorded."""
    policy = override or ApprovalPolicy.from_meta(wd.meta().approval_policy)
    if policy is None:
        raise UsageError("say how approvals are checked: --allowed-signers FILE (signed approvals) or "
                         "--allow-unsigned (or in the playbook: approvals: {allowed_signers: FILE})")
    if policy.allowed_signers is not None and not policy.allowed_signers.is_file():
        raise UsageError(f"allowed_signers {policy.allowed_signers}: no such file")
    return policy


def approve(workdir: str | os.PathLike[str], *, approver: str, digest: str, expires: str = "24h",
            key: str | os.PathLike[str] | None = None, now: datetime | None = None) -> Approval:
    """Record ``approver``'s approval of ``digest`` and the current rewritten tips, signed with ``key``.

    UsageError (exit 2) for a digest other than the rewritten plan's, an empty
    approver name, a bad duration, or a key the recorded allowed_signers does not
    know; nothing is written then.
    """
    wd = Workdir.open(workdir)
    name = " ".join(approver.split())
    if not name or any(unicodedata.category(c).startswith("C") for c in name):
        raise UsageError("--approver must name a person (printable characters only)")
    span = parse_duration(expires)  # the command's own input first, before the workdir's state
    record = rewrite_record.current(wd)
    expected = record.plan_digest
    given = digest.strip().lower()
    if given != expected:
        wd.audit.append("approval-refused", approver=name, digest=given[:12], reason="wrong digest")
        if len(given) < len(expected) and expected.startswith(given):
            raise UsageError(f"--digest needs the full {len(expected)}-character digest, not a prefix; copy it "
                             f"from {wd.plan} ('digest') or from `git-sanitize status --workdir "
                             f"{quote(str(wd.root))}`")
        raise UsageError(f"digest {given[:12]}… is not the rewritten plan's digest {expected[:12]}…; "
                         "approve what was reviewed (see plan.json 'digest')")
    tips = dict(record.rewritten_tips)
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    approval = Approval(approver=name, digest=expected, rewritten_tips=tips, created=created.isoformat(),
                        expires=(created + span).isoformat())
    if key is not None:
        approval = replace(approval, signature=signing.sign(approval.payload(), Path(key)))
        recorded = ApprovalPolicy.from_meta(wd.meta().approval_policy)
        if recorded and recorded.allowed_signers and recorded.allowed_signers.is_file() and \
                signing.signer(approval.payload(), approval.signature or "", recorded.allowed_signers) is None:
            raise UsageError(f"--key {key}: its public key is not in {recorded.allowed_signers}; ask the security "
                             "lead to add it (nothing was recorded)")
    wd.approvals.mkdir(mode=0o700, exist_ok=True)
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    path = wd.approvals / f"{stamp}-{_NAME.sub('_', name)[:40]}.json"
    n = 1
    while path.exists():
        n += 1
        path = wd.approvals / f"{stamp}-{_NAME.sub('_', name)[:40]}-{n}.json"
    write_atomic(path, approval.to_json())
    changing = record.blast_radius
    wd.audit.append("approved", approver=name, digest=expected, rewritten_tips=tips, expires=approval.expires,
                    file=path.name, signed=approval.signature is not None,
                    commits_changing=changing.commits_changing, refs_changing=sorted(changing.refs_changing))
    # The gate opens ("done") only with the quorum a playbook asked for; push re-checks regardless.
    meta = wd.meta()
    recorded = ApprovalPolicy.from_meta(meta.approval_policy)
    if recorded is not None:
        approvers = approvers_of(judge(wd.root, recorded, now=now, record=record))
        required = meta.approvals_required
        wd.record("approve", "done" if len(approvers) >= required else "waiting", approvers=approvers,
                  required=required, digest=expected)
    return approval


def describe_approval(workdir: str | os.PathLike[str], approval: Approval) -> str:
    """What was approved, in the rewrite record's own numbers (the ones plan, report and notices state)."""
    numbers = rewrite_record.load(Workdir.open(workdir)).blast_radius
    signed = "signed" if approval.signature else "unsigned"
    return f"approved by {approval.approver} ({signed}) for plan {approval.digest[:12]}…: {numbers.describe()}"


def load_approvals(workdir: str | os.PathLike[str]) -> list[tuple[str, Approval]]:
    """Every approval file in the workdir, valid or not, with its file name; UsageError on a corrupt one."""
    root = Path(workdir) / "approvals"
    result: list[tuple[str, Approval]] = []
    if not root.is_dir():
        return result
    for path in sorted(root.glob("*.json")):
        result.append((path.name, load(path)))
    return result


def load(path: Path) -> Approval:
    """One approval file; UsageError (one line) on an unreadable or malformed one."""
    try:
        return Approval.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: corrupt approval file ({str(exc)[:80]}); remove it and approve again") from exc


def judge(workdir: str | os.PathLike[str], policy: ApprovalPolicy, *, now: datetime | None = None,
          record: RewriteRecord | None = None) -> list[Verdict]:
    """Every approval file and whether it counts: the one rule push, run and status share.

    It counts when it is not expired, names the current plan digest and rewritten
    tips, and is either signed by a key of ``policy.allowed_signers`` (it then counts
    for that key's principal) or, where the policy accepts unsigned approvals, was
    recorded by ``approve`` in the audit log (a hand-written file is not).
    ``record``: the rewrite record the caller already read (checked current); read here otherwise.
    """
    wd = Workdir.open(workdir)
    record = record or rewrite_record.current(wd)
    digest = record.plan_digest
    tips = dict(record.rewritten_tips)
    audited = {str(r.get("file")) for r in wd.audit.records() if r.get("event") == "approved"}
    verdicts: list[Verdict] = []
    for name, a in load_approvals(wd.root):
        reason = ""
        identity: str | None = None
        if a.expired(now):
            reason = "expired"
        elif a.digest != digest:
            reason = "for another plan digest"
        elif a.rewritten_tips != tips:
            reason = "for other rewritten tips"
        elif a.signature is not None and policy.allowed_signers is not None:
            principal = signing.signer(a.payload(), a.signature, policy.allowed_signers)
            identity = normalize_name(principal) if principal else None
            reason = "" if principal else f"signature not made by a key in {policy.allowed_signers}"
        elif not policy.unsigned:
            reason = "unsigned" if a.signature is None else "signed, but no allowed_signers to check it against"
        elif name not in audited:
            reason = "not recorded by `git-sanitize approve` in audit.log"
        else:
            identity = normalize_name(a.approver)
        verdicts.append(Verdict(name, a, identity, reason))
    return verdicts


def approve_command(wd: Workdir, digest: str) -> str:
    """The exact command an approver pastes (shell-quoted), with ``--key`` when approvals are signed."""
    policy = ApprovalPolicy.from_meta(wd.meta().approval_policy)
    key = " --key ~/.ssh/id_ed25519" if policy is None or policy.allowed_signers else ""
    return (f"git-sanitize approve --workdir {quote(str(wd.root))} --approver {quote('<your name>')} "
            f"--digest {quote(digest)}{key}")


def approvers_of(verdicts: list[Verdict]) -> list[str]:
    """Distinct identities the counting approvals stand for (one person approving twice counts once)."""
    return sorted({v.identity for v in verdicts if v.identity is not None})
