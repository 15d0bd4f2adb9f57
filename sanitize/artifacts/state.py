"""The workdir's state document (``state.json``): each stage's status and details, and run-wide facts.

It is the one file every stage reads to resume: :func:`parse` validates it into
a :class:`State` (UsageError on a corrupt or foreign file, never an empty one),
:meth:`State.dump` gives the text :class:`~sanitize.workdir.Workdir` writes
atomically (0600, fsynced, renamed over the old one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from sanitize.errors import UsageError

SCHEMA = "git-sanitize/state/v1"
STAGES = ("scan", "plan", "rewrite", "notify", "approve", "push", "verify", "guard", "rotate")
STATUSES = ("pending", "running", "done", "failed", "waiting", "skipped")
_COMMON = ("status", "started", "finished")


@dataclass(frozen=True)
class StageRecord(Mapping[str, object]):
    """One stage's record: its status and times, and what the stage chose to keep (``detail``).

    It reads as the JSON object it is stored as (``rec["status"]``, ``rec.get("step")``);
    code uses the typed attributes and readers.
    """

    status: str = "pending"       # one of STATUSES; "pending": the stage never ran
    started: str | None = None    # ISO-8601 UTC
    finished: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)

    def dump(self) -> dict[str, object]:
        """The JSON object kept under ``stages.NAME``."""
        out: dict[str, object] = dict(self.detail)
        out["status"] = self.status
        if self.started is not None:
            out["started"] = self.started
        if self.finished is not None:
            out["finished"] = self.finished
        return out

    def text(self, key: str) -> str | None:
        """A string detail, or None when absent."""
        value = self.detail.get(key)
        return value if isinstance(value, str) else None

    def number(self, key: str) -> int | None:
        """An integer detail, or None when absent."""
        value = self.detail.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def names(self, key: str) -> list[str]:
        """A list-of-strings detail ([] when the stage recorded none)."""
        value = self.detail.get(key)
        return [str(v) for v in value] if isinstance(value, list) else []

    def refs(self, key: str) -> dict[str, str]:
        """A ref → id detail ({} when the stage recorded none)."""
        value = self.detail.get(key)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    # The stored JSON object's view ---------------------------------------------------------
    def __getitem__(self, key: str) -> object:
        return self.dump()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.dump())

    def __len__(self) -> int:
        return len(self.dump())


@dataclass(frozen=True)
class RunMeta:
    """Run-wide facts a playbook or a stage recorded: never secrets."""

    source: str | None = None
    remote: str | None = None
    playbook: str | None = None
    plan_digest: str | None = None
    approvals_required: int = 1
    approval_expires: str | None = None
    approval_policy: Mapping[str, object] | None = None  # :class:`sanitize.purge.approval.ApprovalPolicy`'s JSON form
    extra: Mapping[str, object] = field(default_factory=dict)

    def dump(self) -> dict[str, object]:
        """The JSON object kept under ``meta``."""
        out: dict[str, object] = dict(self.extra)
        for key in ("source", "remote", "playbook", "plan_digest", "approval_expires"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.approval_policy is not None:
            out["approval_policy"] = dict(self.approval_policy)
        out["approvals_required"] = self.approvals_required
        return out

    def updated(self, values: Mapping[str, object]) -> RunMeta:
        """A copy with ``values`` recorded (keys this type does not name go to ``extra``)."""
        return _meta({**self.dump(), **values}, "meta")


@dataclass(frozen=True)
class State:
    """The whole state document."""

    stages: Mapping[str, StageRecord] = field(default_factory=dict)
    meta: RunMeta = field(default_factory=RunMeta)

    def stage(self, name: str) -> StageRecord:
        """One stage's record (status ``pending`` if it never ran)."""
        return self.stages.get(name) or StageRecord()

    def with_stage(self, name: str, record: StageRecord) -> State:
        """A copy with ``name``'s record replaced."""
        return replace(self, stages={**self.stages, name: record})

    def dump(self) -> str:
        """state.json's text."""
        doc = {"schema": SCHEMA, "stages": {n: r.dump() for n, r in self.stages.items()}, "meta": self.meta.dump()}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def parse(text: str, where: str) -> State:
    """The state in ``text``; UsageError (naming ``where``) if it is not a git-sanitize state file."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: corrupt state file") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("stages"), dict):
        raise UsageError(f"{where}: not a git-sanitize state file")
    stages: dict[str, StageRecord] = {}
    for name, rec in data["stages"].items():
        if name not in STAGES or not isinstance(rec, dict):
            raise UsageError(f"{where}: malformed record for stage {str(name)[:40]!r}")
        stages[name] = _stage(rec, f"{where}: stage {name}")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise UsageError(f"{where}: 'meta' must be an object")
    return State(stages, _meta(meta, where))


def _stage(rec: Mapping[str, object], where: str) -> StageRecord:
    status = rec.get("status", "pending")
    if status not in STATUSES:
        raise UsageError(f"{where}: unknown status {str(status)[:40]!r}")
    started, finished = rec.get("started"), rec.get("finished")
    if not isinstance(started, str | None) or not isinstance(finished, str | None):
        raise UsageError(f"{where}: 'started'/'finished' must be timestamps")
    return StageRecord(str(status), started, finished, detail={k: v for k, v in rec.items() if k not in _COMMON})


def _meta(data: Mapping[str, object], where: str) -> RunMeta:
    texts: dict[str, str | None] = {}
    for key in ("source", "remote", "playbook", "plan_digest", "approval_expires"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{where}: meta {key!r} must be a string")
        texts[key] = value
    required = data.get("approvals_required", 1)
    if not isinstance(required, int) or isinstance(required, bool) or required < 1:
        raise UsageError(f"{where}: meta 'approvals_required' must be a positive integer")
    policy = data.get("approval_policy")
    if policy is not None and not isinstance(policy, dict):
        raise UsageError(f"{where}: meta 'approval_policy' must be an object")
    known = {*texts, "approvals_required", "approval_policy"}
    return RunMeta(source=texts["source"], remote=texts["remote"], playbook=texts["playbook"],
                   plan_digest=texts["plan_digest"], approval_expires=texts["approval_expires"],
                   approvals_required=required, approval_policy=policy,
                   extra={k: v for k, v in data.items() if k not in known})
