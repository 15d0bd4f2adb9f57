"""One configured secret in a run: its lock and lease, the due and kind checks, the protocol, its state.

The local lock, then the lease in the store itself (either held: skipped,
"locked by another run"); with ``--due`` its age is checked under the lease.
Before anything is changed, the stored value's kind (:mod:`rotation.kinds`)
must be one the configured target can rotate; otherwise the store is left
alone and the credential is reported ``still-live`` with the exact step (or
revoked at its provider with ``--revoke``). A rotation that fails is rolled
back by the protocol; its outcome says what the operator must do. Every
outcome goes to the audit log with the steps that led to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rotation.backends.base import Lease, SecretBackend
from rotation.config import SecretConfig
from rotation.errors import LeakStillValid, LeaseHeld, RotationError
from rotation.kinds import CredentialKind, detect
from rotation.protocol import AFTER_PROMOTION, LEASE_TTL, RotationResult, StepOutcome, housekeep, rotate_secret
from rotation.revocation import PROVIDERS
from rotation.revoking import STORE_NOTE, Revoking, revoked
from rotation.schedule import Locked, SecretLock, is_due
from rotation.selection import Exposure, check_due
from rotation.states import PROVEN_DEAD, STILL_LIVE, UNPROVEN, Ack
from rotation.summary import RunLog, SecretOutcome, acked
from sanitize.audit import AuditLog
from sanitize.secret import Secret


@dataclass(frozen=True)
class RunContext:
    """What every secret of one run shares."""

    backend: SecretBackend
    mode: str
    due: bool
    dry_run: bool
    now: datetime | None  # a fake clock for ``due`` (None: the real one)
    identity: str  # the store, as the log and the audit log name it
    owner: str  # this run, in store leases
    locks: Path  # the local lock directory
    audit: AuditLog
    line: RunLog
    acks: dict[str, Ack]
    exposure: Exposure
    revoking: Revoking


def run_secret(s: SecretConfig, run: RunContext) -> tuple[SecretOutcome, bool]:
    """Run ``s`` under its lock and lease; returns its (audited) outcome, and whether it failed because the
    leaked value is still accepted. A bad-input error (exit 2) is audited as the run's abort and raised."""
    outcome = SecretOutcome(name=s.name, status="failed", exposed=s.name in run.exposure.by_secret)
    lock = SecretLock(run.locks, run.identity, s.name)
    try:
        lock.acquire()
    except Locked:
        _skipped(s, run.mode, outcome, "locked by another run", run.line)
        run.audit.append("rotation.secret", secret=s.name, backend=run.identity, mode=run.mode,
                         **outcome.audit_fields())
        return outcome, False
    steps: list[StepOutcome] = []
    lease: Lease | None = None
    leaked = False
    promoted = False  # a failure after promotion: the new value is current, nothing was rolled back
    try:
        # A dry run writes nothing, not even a lease.
        lease = None if run.dry_run else run.backend.acquire_lease(s.ref, run.owner, LEASE_TTL)
        _one(s, run, outcome, steps, lease)
    except LeaseHeld as exc:
        _skipped(s, run.mode, outcome, f"locked by another run: {exc}", run.line)
    except LeakStillValid as exc:
        outcome.status, outcome.reason, outcome.leaked_rejected = "failed", str(exc), False
        leaked = promoted = True
    except RotationError as exc:
        if exc.exit_code == 2:
            run.audit.append("rotation.aborted", backend=run.identity, secret=s.name, reason=str(exc))
            raise
        outcome.status, outcome.reason = "failed", str(exc)
        promoted = exc.step in AFTER_PROMOTION
    finally:
        if lease is not None:
            run.backend.release_lease(s.ref, lease)
        lock.release()
    _still_live_action(s, outcome, promoted)
    exposure = run.exposure.by_secret
    extra = {"exposure_sha256": exposure[s.name]} if s.name in exposure else {}
    run.audit.append("rotation.secret", secret=s.name, backend=run.identity, mode=run.mode,
                     steps=[step.to_dict() for step in steps], **outcome.audit_fields(), **extra)
    return outcome, leaked


def _still_live_action(s: SecretConfig, outcome: SecretOutcome, promoted: bool) -> None:
    """A failed or exposed-but-not-rotated secret is still live: say what to do."""
    if outcome.status == "failed" and promoted:
        outcome.state = STILL_LIVE
        outcome.action = (f"the store holds {s.name}'s new value, but the leaked value is still accepted (or "
                          "could not be checked): restart or reload every consumer, fix the cause above, then "
                          f"re-run `git-sanitize rotate --only {s.name}` to rotate and prove again")
    elif outcome.status == "failed":
        outcome.state = STILL_LIVE
        outcome.action = (f"the rotation of {s.name} failed and was rolled back, so the leaked value still "
                          f"works: fix the cause above, then re-run `git-sanitize rotate --only {s.name}`")
    elif outcome.exposed and outcome.state is None and outcome.status != "would rotate":
        outcome.state = STILL_LIVE
        outcome.action = f"{s.name} is exposed but was not rotated ({outcome.status}): run " \
                         f"`git-sanitize rotate --only {s.name}` without --due"


def _one(s: SecretConfig, run: RunContext, outcome: SecretOutcome, steps: list[StepOutcome],
         lease: Lease | None) -> None:
    """One secret, under its lock: the due check, the kind check, then a dry run or the protocol."""
    line, backend = run.line, run.backend
    if run.due:
        due = check_due(s, backend, run.exposure.hashes)
        if not due.forced and not is_due(due.last, s.max_age, run.now):
            outcome.status = "not due"
            outcome.reason = "no max_age" if s.max_age is None else f"rotated less than {s.max_age} ago"
            if outcome.exposed and not due.exposed_now:  # replaced under another run's lease meanwhile
                outcome.exposed = False
                outcome.reason += " (the exposed value was already replaced by another run)"
            line(s.name, "due", "not due", last_rotated=due.stamp)
            tidied = "" if run.dry_run else housekeep(s.target, s.ref, s.consumers, run.now or datetime.now(UTC),
                                                      log=lambda step: line.step(s.name, step))
            if tidied:  # e.g. JWKS keys whose grace window ended left the set
                outcome.reason += f"; {tidied}"
            return
        line(s.name, "due", "due", last_rotated=due.stamp, **({"reason": due.forced} if due.forced else {}))
    try:
        current = backend.read_current(s.ref)
    except RotationError as exc:
        raise type(exc)(str(exc), step="read") from exc
    kind = detect(s.name, current.value)
    outcome.kind = kind.id
    if not kind.accepts(s.target.kind):
        _cannot_rotate(s, kind, outcome, run, current.value)
        return
    if run.dry_run:
        outcome.status, outcome.old_version = "would rotate", current.version
        outcome.reason = f"dry run: would rotate ({run.mode}, target {s.target.kind})"
        line(s.name, "plan", "would rotate", current.version, target=s.target.kind,
             consumers=[c.label for c in s.consumers], proofs=[p.label for p in s.proofs])
        return

    def step_log(step: StepOutcome) -> None:
        steps.append(step)
        line.step(s.name, step)

    result = rotate_secret(backend, s.ref, s.generate, s.target, mode=run.mode, log=step_log,
                           consumers=s.consumers, proofs=s.proofs, lease=lease)
    outcome.status = "rotated"
    outcome.old_version, outcome.new_version = result.old_version, result.new_version
    if result.leak is not None:
        outcome.leaked_rejected = result.leak.leaked_rejected
        outcome.sessions_terminated = result.leak.sessions_terminated
    _state_of(s, run.mode, result, outcome)
    line(s.name, "state", outcome.state, result.new_version,
         **({"proof": outcome.proof} if outcome.proof else {"why": outcome.why}))


def _cannot_rotate(s: SecretConfig, kind: CredentialKind, outcome: SecretOutcome, run: RunContext,
                   value: Secret) -> None:
    """The config cannot rotate this kind: leave the store alone, say what to do (or what was acknowledged,
    or revoke it at its provider with ``--revoke``)."""
    line, ack = run.line, run.acks.get(s.name)
    outcome.status = "not rotated"
    if s.target.kind == "none":
        outcome.reason = (f"configuration error: {s.name} holds {kind.label}, which a store-only rotation cannot "
                          "change where it is checked; the store was left unchanged")
    else:
        outcome.reason = (f"configuration error: {s.name} holds {kind.label}, which the {s.target.kind} target "
                          "cannot rotate; the store was left unchanged")
    if ack is not None and not run.exposure.by_secret.get(s.name):
        acked(outcome, kind, ack)
        line(s.name, "state", outcome.state, kind=kind.id, proof=outcome.proof or outcome.why)
        return
    if revoked(s.name, kind, value.sha256, value, outcome, line, run.revoking, STORE_NOTE):
        return
    outcome.state, outcome.action = STILL_LIVE, kind.instruction(s.name)
    provider = PROVIDERS.get(kind.id)
    if provider is not None and outcome.revocation is None and s.name not in run.revoking.candidates:
        outcome.action = (f"run `git-sanitize rotate --revoke --only {s.name}` to revoke it through "
                          f"{provider.label}'s API, or " + outcome.action)
    if ack is not None:
        outcome.action = (f"{s.name} was acknowledged ({ack.proof()}) but the store still holds the leaked "
                          f"value: put the replacement in the store; " + outcome.action)
    line(s.name, "kind", "not rotated", kind=kind.id, reason=outcome.reason, action=outcome.action)


def _skipped(s: SecretConfig, mode: str, outcome: SecretOutcome, reason: str, line: RunLog) -> None:
    """Another run (local lock or store lease) has this secret: leave it to that run."""
    outcome.status, outcome.reason = "skipped", reason
    line(s.name, "lock", "skipped", reason=reason)
    if outcome.exposed or mode == "compromised":
        outcome.state = STILL_LIVE
        outcome.action = (f"another run holds {s.name}'s lock: check that run's result, or re-run "
                          f"`git-sanitize rotate --only {s.name}` once it has finished")


def _unproven_why(s: SecretConfig, mode: str) -> str:
    if mode == "scheduled":
        return "scheduled mode keeps the previous version for the grace window and does not test the old value"
    if s.target.kind == "none":
        return ("no target and no proof step: the value lives only in the store, so nothing tested that the "
                "leaked value is refused; restart or reload every consumer (tokens signed with a leaked key stay "
                "valid until then) and add a `proofs:` check; an app that keeps a hash of it in its own table "
                "needs `target: {type: sql, ...}`")
    return (f"the {s.target.kind} target has no proof step: add a `proofs:` check"
            + (" (or set prove_leak: true)" if s.target.kind == "command" else ""))


def _state_of(s: SecretConfig, mode: str, result: RotationResult, outcome: SecretOutcome) -> None:
    outcome.consumers = list(result.consumers)
    _proof_state(s, mode, result, outcome)
    failed = outcome.consumer_failed
    if failed:
        outcome.reason = f"consumer reload failed: {', '.join(failed)}"
        if outcome.state != PROVEN_DEAD:  # nothing shows the leaked value refused where the consumer runs
            outcome.state = STILL_LIVE
            outcome.action = (f"{', '.join(failed)} did not reload {s.name} (see the consume step's output): "
                              "restart it by hand; until then it may still accept the leaked value")
        else:
            outcome.action = f"{', '.join(failed)} did not reload {s.name}: restart it by hand"


def _proof_state(s: SecretConfig, mode: str, result: RotationResult, outcome: SecretOutcome) -> None:
    if result.unproven:
        outcome.state, outcome.why = UNPROVEN, result.unproven
        if result.leak is not None and result.leak.leaked_rejected and result.leak.detail:
            outcome.why += f" (the {s.target.kind} target: {result.leak.detail})"
    elif result.leak is not None and result.leak.leaked_rejected:
        outcome.state = result.leak.state or PROVEN_DEAD
        outcome.proof = result.leak.detail or "the target refused the leaked value"
        if result.leak.sessions_terminated:
            outcome.proof += f"; {result.leak.sessions_terminated} session(s) opened before the change ended"
    else:
        outcome.state, outcome.why = UNPROVEN, _unproven_why(s, mode)
