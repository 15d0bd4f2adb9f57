"""``rotate()``: run the protocol over the configured secrets, in either mode.

Order of work: match stored values against a scan's findings (exposed
secrets go first), then per secret: take its lock (held → skip, "locked by
another run"), with ``due`` check its age *under the lock* (so a run that
waited behind another sees the fresh rotation and skips), then rotate.
Every step goes to ``log`` as a JSON-able record and every secret's outcome
to the append-only audit log; neither ever holds a value.

A secret that fails is rolled back by the protocol and the run goes on with
the others; the run then raises (exit 1) naming the failures. Unreachable
store, refused token or bad config raise at once (exit 2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rotation.backends.base import SecretBackend
from rotation.config import RotationConfig, SecretConfig
from rotation.errors import ConfigError, LeakStillValid, RotationError
from rotation.generate import exposure_hash
from rotation.protocol import MODES, rotate_secret
from rotation.schedule import Locked, SecretLock, default_lock_dir, is_due
from sanitize.audit import AuditLog
from sanitize.errors import SanitizeError
from sanitize.scan.report import ScanReport

LogFn = Callable[[str], None]
DEFAULT_AUDIT_LOG = "rotation-audit.log"


@dataclass
class SecretOutcome:
    """One secret's result: ``rotated``, ``would rotate``, ``not due``, ``skipped`` or ``failed``."""

    name: str
    status: str
    reason: str = ""
    exposed: bool = False
    old_version: str | None = None
    new_version: str | None = None
    leaked_rejected: bool | None = None
    sessions_terminated: int | None = None


@dataclass
class RotationSummary:
    """The whole run (no values): what rotated, what was skipped and why, what was exposed."""

    mode: str
    backend: str
    dry_run: bool = False
    outcomes: list[SecretOutcome] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)

    def named(self, status: str) -> list[str]:
        """Names of the secrets with this status."""
        return [o.name for o in self.outcomes if o.status == status]

    @property
    def rotated(self) -> list[str]:
        """Names of the secrets rotated in this run."""
        return self.named("rotated")

    @property
    def failed(self) -> list[str]:
        """Names of the secrets whose rotation failed (rolled back)."""
        return self.named("failed")

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else 1."""
        return 1 if self.failed else 0

    def __str__(self) -> str:
        parts = [f"{self.mode} rotation on {self.backend}" + (" (dry run)" if self.dry_run else "")]
        if self.exposed:
            parts.append("exposed in history: " + ", ".join(self.exposed))
        for status in ("rotated", "would rotate", "not due", "skipped", "failed"):
            names = self.named(status)
            if names:
                parts.append(f"{status}: {', '.join(names)}")
        if not self.outcomes:
            parts.append("nothing to do")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the CLI's final log line)."""
        return {"mode": self.mode, "backend": self.backend, "dry_run": self.dry_run, "exposed": self.exposed,
                "rotated": self.rotated, "failed": self.failed, "outcomes": [asdict(o) for o in self.outcomes]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _exposed_hashes(findings: str | os.PathLike[str] | ScanReport | Iterable[str]) -> set[str]:
    if isinstance(findings, ScanReport):
        return {f.secret_sha256 for f in findings.findings}
    if isinstance(findings, str | os.PathLike):
        return {f.secret_sha256 for f in ScanReport.load(Path(findings)).findings}
    return {str(h) for h in findings}


def _select(config: RotationConfig, only: str | Iterable[str] | None) -> list[SecretConfig]:
    if only is None:
        return list(config.secrets)
    names = [only] if isinstance(only, str) else list(only)
    return [config.secret(n) for n in names]


def rotate(config: RotationConfig, *, mode: str = "compromised", due: bool = False,
           only: str | Iterable[str] | None = None,
           findings: str | os.PathLike[str] | ScanReport | Iterable[str] | None = None,
           dry_run: bool = False, audit: AuditLog | None = None, log: LogFn | None = None,
           now: datetime | None = None, backend: SecretBackend | None = None,
           lock_dir: Path | None = None) -> RotationSummary:
    """Rotate the configured secrets; see the module docstring. ``now`` fakes the clock for ``due``.

    ``log`` receives one JSON line per step: ``{"ts", "secret", "step", "status", "version", ...}``.

    Raises ConfigError/BackendUnavailable (exit 2) for bad input, and after the
    whole run RotationError or LeakStillValid (exit 1) if any secret failed.
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    selected = _select(config, only)
    backend = backend or config.backend.create()
    audit = audit or AuditLog(config.audit_log or Path.cwd() / DEFAULT_AUDIT_LOG)
    emit: LogFn = log or (lambda _record: None)
    locks = lock_dir or config.lock_dir or default_lock_dir()
    identity = config.backend.identity
    summary = RotationSummary(mode=mode, backend=identity, dry_run=dry_run)
    leak_failures: list[str] = []

    def line(secret: str, step: str, status: str, version: str | None = None, **detail: Any) -> None:
        record = {"ts": _now(), "secret": secret, "step": step, "status": status, "version": version, **detail}
        emit(json.dumps(record, default=str))

    audit.append("rotation.start", backend=identity, mode=mode, due=due, dry_run=dry_run,
                 secrets=[s.name for s in selected])

    if findings is not None:
        hashes = _exposed_hashes(findings)
        exposed: list[SecretConfig] = []
        for s in selected:
            try:
                value = backend.read_current(s.ref).value
                # A DSN counts as exposed whether the scan hashed its password or the whole DSN.
                hit = exposure_hash(value) in hashes or value.sha256 in hashes
            except SanitizeError as exc:
                if exc.exit_code == 2:
                    raise
                line(s.name, "match", "failed", error=str(exc))
                continue
            if hit:
                exposed.append(s)
                summary.exposed.append(s.name)
                line(s.name, "match", f"exposed in history: {s.name}")
        audit.append("rotation.exposed", backend=identity, secrets=summary.exposed)
        selected = exposed + [s for s in selected if s not in exposed]

    for s in selected:
        outcome = SecretOutcome(name=s.name, status="failed", exposed=s.name in summary.exposed)
        lock = SecretLock(locks, identity, s.name)
        try:
            lock.acquire()
        except Locked:
            outcome.status, outcome.reason = "skipped", "locked by another run"
            line(s.name, "lock", "skipped", reason=outcome.reason)
            summary.outcomes.append(outcome)
            audit.append("rotation.secret", secret=s.name, backend=identity, mode=mode, **_fields(outcome))
            continue
        steps: list[dict[str, Any]] = []
        try:
            _one(s, backend, mode=mode, due=due, dry_run=dry_run, now=now, outcome=outcome, steps=steps,
                 line=line)
        except LeakStillValid as exc:
            outcome.status, outcome.reason, outcome.leaked_rejected = "failed", str(exc), False
            leak_failures.append(s.name)
        except RotationError as exc:
            if exc.exit_code == 2:
                audit.append("rotation.aborted", backend=identity, secret=s.name, reason=str(exc))
                raise
            outcome.status, outcome.reason = "failed", str(exc)
        finally:
            lock.release()
        summary.outcomes.append(outcome)
        audit.append("rotation.secret", secret=s.name, backend=identity, mode=mode, steps=steps, **_fields(outcome))

    audit.append("rotation.end", backend=identity, mode=mode, rotated=summary.rotated, failed=summary.failed,
                 skipped=summary.named("skipped"), not_due=summary.named("not due"), exposed=summary.exposed)
    if summary.failed:
        reasons = "; ".join(f"{o.name}: {o.reason}" for o in summary.outcomes if o.status == "failed")
        message = f"{len(summary.failed)} of {len(selected)} secrets not rotated — {reasons}"
        err: SanitizeError = LeakStillValid(message) if leak_failures else RotationError(message)
        err.summary = summary  # type: ignore[attr-defined]
        raise err
    return summary


def _fields(outcome: SecretOutcome) -> dict[str, Any]:
    d = asdict(outcome)
    d.pop("name")
    return d


def _one(s: SecretConfig, backend: SecretBackend, *, mode: str, due: bool, dry_run: bool, now: datetime | None,
         outcome: SecretOutcome, steps: list[dict[str, Any]], line: Callable[..., None]) -> None:
    """One secret, under its lock: the due check, then a dry run or the protocol."""
    if due:
        try:
            last = backend.last_rotated(s.ref)
        except RotationError as exc:
            raise type(exc)(str(exc), step="due") from exc
        if not is_due(last, s.max_age, now):
            outcome.status = "not due"
            outcome.reason = "no max_age" if s.max_age is None else f"rotated less than {s.max_age} ago"
            line(s.name, "due", "not due", last_rotated=last.isoformat() if last else None)
            return
        line(s.name, "due", "due", last_rotated=last.isoformat() if last else None)
    if dry_run:
        current = backend.read_current(s.ref)
        outcome.status, outcome.old_version = "would rotate", current.version
        outcome.reason = f"dry run: would rotate ({mode}, target {s.target.kind})"
        line(s.name, "plan", "would rotate", current.version, target=s.target.kind)
        return

    def step_log(**entry: Any) -> None:
        steps.append(entry)
        line(s.name, **entry)

    result = rotate_secret(backend, s.ref, s.generate, s.target, mode=mode, log=step_log)
    outcome.status = "rotated"
    outcome.old_version, outcome.new_version = result.old_version, result.new_version
    if result.leak is not None:
        outcome.leaked_rejected = result.leak.leaked_rejected
        outcome.sessions_terminated = result.leak.sessions_terminated
