"""The rotation protocol for one secret: create → set → test → finish, with rollback.

Whatever the backend: a new value is staged as *pending* (never current),
set on the target, tested (the target accepts it and the store reads it
back), then promoted with check-and-set against the version we started
from. A failure at any step reverts the target to the old credential and
discards the pending value, so the store's current value is unchanged; the
error names the step. Compromised mode keeps no previous version and then
proves the leaked value is dead on the target.

Across hosts, the caller holds a *lease* in the store (see
:meth:`SecretBackend.acquire_lease`); it is renewed with check-and-set before
the target is changed and before promotion, so a run whose lease expired
stops before it can overwrite the run that took over. A rollback gives the
target the value the store holds *now*, not the one this run started from:
if another writer promoted meanwhile, restoring the start value would bring
back a superseded (in compromised mode: the leaked) credential.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from rotation.backends.base import Lease, SecretBackend, SecretRef
from rotation.consumers import Consumer
from rotation.errors import LeakStillValid, PromotedButUnfinished, RotationError, TargetError
from rotation.generate import GenerateSpec, generate
from rotation.proofs import Proof, run_proofs
from rotation.targets.base import LeakProof, StoreOnly, Target
from sanitize.faults import fault_point
from sanitize.secret import Secret

MODES = ("compromised", "scheduled")
#: How long a lease lasts between renewals; a rotation renews it before each change it makes.
LEASE_TTL = timedelta(minutes=15)
STEPS = ("read", "create", "set", "test", "finish", "retire", "consume", "prove")
#: Steps after the new value became current: a failure there is not rolled back.
AFTER_PROMOTION = ("retire", "consume", "prove")



@dataclass(frozen=True)
class StepOutcome:
    """One step of one rotation, as the run log and the audit log show it (never a value).

    Beyond ``step``, ``status`` and the store ``version`` it acted on, a step sets only the fields that say
    something about it; the others stay None and are left out of :meth:`to_dict`.
    """

    step: str
    status: str
    version: str | None = None
    token: str | None = None  # create: the staging token
    target: str | None = None  # set: the target's kind
    previous_kept: bool | None = None  # finish: scheduled mode keeps the previous version
    consumer: str | None = None  # consume: which consumer reloaded
    check: str | None = None  # prove: a proof check's label
    value: str | None = None  # prove: which value that check tried, "new" or "leaked" (a word, not the value)
    verdict: str | None = None  # prove: what that check answered
    leaked_rejected: bool | None = None
    sessions_terminated: int | None = None
    error: str | None = None  # a failed step: what went wrong (our own errors' text only)
    rollback: str | None = None  # a failed step: what was undone
    detail: str | None = None
    output: str | None = None  # a hook's, consumer's or check's output, redacted
    why: str | None = None  # prove: why the checks could not decide

    def to_dict(self) -> dict[str, object]:
        """The JSON record: ``step``, ``status``, ``version``, then the fields this step set, in field order."""
        record: dict[str, object] = {"step": self.step, "status": self.status, "version": self.version}
        for f in fields(self)[3:]:
            value = getattr(self, f.name)
            if value is not None:
                record[f.name] = value
        return record


@dataclass(frozen=True)
class ConsumerReload:
    """One consumer's reload after promotion: its label, whether it reloaded, a value-free detail."""

    consumer: str
    ok: bool
    detail: str


#: Receives every step's outcome as it happens.
StepLog = Callable[[StepOutcome], None]


@dataclass
class RotationResult:
    """What happened to one secret (no values): versions, per-step outcomes, leak proof."""

    name: str
    old_version: str | None = None
    new_version: str | None = None
    token: str = ""
    steps: list[StepOutcome] = field(default_factory=list)
    leak: LeakProof | None = None
    #: Why the configured proof checks could not decide (the leaked value was not accepted, nor shown refused).
    unproven: str = ""
    #: Each consumer's reload, in the configured order.
    consumers: list[ConsumerReload] = field(default_factory=list)


def _noop(_: StepOutcome) -> None:
    pass


def _restore_value(backend: SecretBackend, ref: SecretRef, old: Secret, new: Secret) -> tuple[Secret, str]:
    """What the target must accept again: the store's current value (``old`` unless another run promoted)."""
    try:
        now = backend.read_current(ref).value
    except RotationError:
        return old, ""
    if now == old or now == new:
        return old, ""
    return now, " (to the value another run promoted meanwhile, not the one this run started from)"


def _rollback(backend: SecretBackend, ref: SecretRef, target: Target, token: str, old: Secret,
              new: Secret, applied: bool) -> tuple[list[str], str]:
    """Undo what this run did; returns what could not be undone and a note on what was restored (never raises)."""
    problems: list[str] = []
    note = ""
    if applied:
        restore, note = _restore_value(backend, ref, old, new)
        try:
            target.revert(restore, new)
        except RotationError as exc:
            problems.append(f"target revert failed ({exc})")
    try:
        backend.discard_pending(ref, token)
    except RotationError as exc:
        problems.append(f"discarding the pending value failed ({exc})")
    return problems, note


def _promoted(backend: SecretBackend, ref: SecretRef, new: Secret) -> bool:
    """Whether the store's current value is already ``new`` (a failure after the write)."""
    try:
        return backend.read_current(ref).value == new
    except RotationError:
        return False


# -- the steps, one by one (the Secrets Manager Lambda calls them as AWS drives it) ---------------------------


def new_value(spec: GenerateSpec, target: Target, old: Secret) -> Secret:
    """create: the new value, minted by a target that issues its own (a Vault static role, whose old
    password is dead from this moment), else generated from ``spec`` (a DSN keeps all but its password)."""
    issue = getattr(target, "issue", None)
    if callable(issue):
        value: Secret = issue(old)
        return value
    return generate(spec, old)


def test_pending(backend: SecretBackend, ref: SecretRef, target: Target, token: str, new: Secret) -> None:
    """test: the target accepts the new value, and the store returns exactly the value that was staged."""
    target.test(new)
    if backend.read_pending(ref, token) != new:
        raise RotationError("the store did not return the pending value that was written")


def prove_dead(target: Target, ref: SecretRef, leaked: Secret) -> LeakProof | None:
    """prove: the target refuses ``leaked`` (LeakStillValid if it does not; None: nothing to try it on)."""
    proof = target.prove_leak_dead(leaked)
    if proof is not None and not proof.leaked_rejected:
        raise LeakStillValid(f"prove: {ref.name}: the leaked credential still works on the {target.kind} "
                             "target after rotation")
    return proof


def rotate_secret(backend: SecretBackend, ref: SecretRef, spec: GenerateSpec, target: Target | None = None, *,
                  mode: str = "compromised", token: str | None = None, log: StepLog = _noop,
                  consumers: Sequence[Consumer] = (), proofs: Sequence[Proof] = (),
                  lease: Lease | None = None) -> RotationResult:
    """Rotate one secret; RotationError (step=...) after rolling back, LeakStillValid if the proof fails.

    After promotion: the target's ``promoted`` step ("retire": e.g. the old signing key leaves the JWKS), each
    consumer reloads, and in compromised mode the target's proof and every proof check run.

    ``log(StepOutcome)`` is called after every step (it never holds a value).
    ``lease``: the caller's lease on ``ref``, renewed before each change (LeaseLost: rolled back).
    """
    if mode not in MODES:
        raise RotationError(f"mode must be one of {', '.join(MODES)}")
    target = target or StoreOnly()
    token = token or str(uuid.uuid4())
    result = RotationResult(name=ref.name, token=token)

    def record(outcome: StepOutcome) -> None:
        result.steps.append(outcome)
        log(outcome)

    def renew() -> None:
        if lease is not None:
            backend.renew_lease(ref, lease, LEASE_TTL)

    try:
        current = backend.read_current(ref)
    except RotationError as exc:
        record(StepOutcome("read", "failed", error=str(exc)))
        raise type(exc)(str(exc), step="read") from exc
    old = current.value
    result.old_version = current.version
    record(StepOutcome("read", "ok", current.version))

    issue = getattr(target, "issue", None)
    new = old  # until a new value exists, a rollback has only the old one to restore
    applied = False
    step = "create"
    try:
        renew()
        if callable(issue):
            step, applied = "set", True  # the target changes here: a failure from now on reverts it
        new = new_value(spec, target, old)
        step = "create"
        backend.stage_pending(ref, new, token)
        record(StepOutcome("create", "ok", current.version, token=token))
        fault_point("rotate:after-create")
        step = "set"
        renew()
        applied = True  # a half-applied change is reverted too
        target.apply(old, new)
        record(StepOutcome("set", "ok", current.version, target=target.kind))
        fault_point("rotate:after-set")
        step = "test"
        test_pending(backend, ref, target, token, new)
        record(StepOutcome("test", "ok", current.version))
        fault_point("rotate:before-finish")
        step = "finish"
        renew()
        result.new_version = backend.promote(ref, token, current.version, keep_previous=(mode == "scheduled"))
    except BaseException as exc:  # any failure must roll back before it propagates
        promoted = step == "finish" and (isinstance(exc, PromotedButUnfinished) or _promoted(backend, ref, new))
        if not isinstance(exc, Exception):  # Ctrl-C / exit mid-rotation: undo, then let it through
            if not promoted:
                _rollback(backend, ref, target, token, old, new, applied)
            raise
        if promoted:
            # The new value is current: reverting the target now would break consumers.
            message = str(exc) if isinstance(exc, RotationError) else f"unexpected {type(exc).__name__}"
            record(StepOutcome(step, "failed", None, error=message, rollback="none: the new value is already current"))
            raise RotationError(f"promoted, but finishing failed: {message}; re-run to finish", step=step) from exc
        problems, restored = _rollback(backend, ref, target, token, old, new, applied)
        suffix = "rolled back: store unchanged" + (f", target reverted{restored}" if applied else "")
        if problems:
            suffix = "ROLLBACK INCOMPLETE: " + "; ".join(problems)
        # A vendor exception's text may echo a value: only our own errors' messages are shown.
        message = str(exc) if isinstance(exc, RotationError) else f"unexpected {type(exc).__name__}"
        output = getattr(exc, "output", "") if isinstance(exc, RotationError) else ""
        record(StepOutcome(step, "failed", current.version, error=message, rollback=suffix, output=output or None))
        cls = type(exc) if isinstance(exc, RotationError) else RotationError
        raise cls(f"{message} ({suffix})", step=step) from exc
    record(StepOutcome("finish", "ok", result.new_version, previous_kept=(mode == "scheduled")))
    _after_promotion(target, ref, old, new, mode, consumers, proofs, result, record)
    return result


def housekeep(target: Target, ref: SecretRef, consumers: Sequence[Consumer], now: datetime,
              log: StepLog = _noop) -> str:
    """A not-due run: the target's clean-up (e.g. retired JWKS keys), then the consumers reload if it did anything.

    TargetError if the clean-up or a consumer failed; returns what was done ("" for nothing).
    """
    done: str = _guarded("housekeep", log, None, "tidying up at the target",
                         functools.partial(target.housekeep, now))
    if not done:
        return ""
    log(StepOutcome("housekeep", "ok", None, detail=done))
    for consumer in consumers:
        answer = _guarded("consume", log, None, f"reloading {consumer.label}",
                          functools.partial(consumer.reload, ref.name, None, ()))
        log(StepOutcome("consume", "ok" if answer.ok else "failed", None, consumer=consumer.label,
                        detail=answer.detail, output=answer.output))
        if not answer.ok:
            raise TargetError(f"housekeep: {consumer.label} did not reload ({answer.detail})")
    return done


def _guarded(step: str, record: StepLog, version: str | None, what: str, call: Callable[[], Any]) -> Any:
    """Run a post-promotion call; our errors keep their text, anything else only its type (it may quote a value)."""
    try:
        return call()
    except TargetError as exc:
        record(StepOutcome(step, "failed", version, error=str(exc)))
        raise TargetError(str(exc), step=step) from exc
    except Exception as exc:  # noqa: BLE001 - a driver's message may quote the leaked value: type only
        message = f"unexpected {type(exc).__name__} while {what}"
        record(StepOutcome(step, "failed", version, error=message))
        raise TargetError(message, step=step) from None


def _after_promotion(target: Target, ref: SecretRef, old: Secret, new: Secret, mode: str,
                     consumers: Sequence[Consumer], proofs: Sequence[Proof], result: RotationResult,
                     record: StepLog) -> None:
    """The new value is current: the target's own clean-up, the consumers' reload, then (compromised) the proof.

    Nothing here rolls back: reverting now would hand consumers the leaked value again.
    """
    version = result.new_version
    done = _guarded("retire", record, version, "retiring the old value at the target",
                    functools.partial(target.promoted, old, new, compromised=(mode == "compromised")))
    if done:
        record(StepOutcome("retire", "ok", version, detail=done))
    for consumer in consumers:
        answer = _guarded("consume", record, version, f"reloading {consumer.label}",
                          functools.partial(consumer.reload, ref.name, version, (old, new)))
        record(StepOutcome("consume", "ok" if answer.ok else "failed", version, consumer=consumer.label,
                           detail=answer.detail, output=answer.output))
        result.consumers.append(ConsumerReload(consumer=consumer.label, ok=answer.ok, detail=answer.detail))
    if mode != "compromised":
        return
    proof = _guarded("prove", record, version, "proving the leaked value dead",
                     functools.partial(target.prove_leak_dead, old))
    result.leak = proof
    if proof is not None:
        if not proof.leaked_rejected:
            record(StepOutcome("prove", "failed", version, leaked_rejected=False, detail=proof.detail))
            raise LeakStillValid(f"prove: {ref.name}: the leaked credential still works on the {target.kind} "
                                 "target after rotation")
        record(StepOutcome("prove", "leaked credential rejected" if proof.state is None else proof.state, version,
                           sessions_terminated=proof.sessions_terminated, detail=proof.detail))

    def checked(*, check: str, value: str, verdict: str, detail: str, output: str) -> None:
        record(StepOutcome("prove", "check", version, check=check, value=value, verdict=verdict, detail=detail,
                           output=output))

    verdict = _guarded("prove", record, version, "running the proof checks",
                       lambda: run_proofs(proofs, ref.name, old, new, checked))
    if verdict is None:
        return
    if verdict.leaked_rejected is False:
        record(StepOutcome("prove", "failed", version, leaked_rejected=False, detail=verdict.detail))
        raise LeakStillValid(f"prove: {ref.name}: the leaked value is still accepted after rotation: "
                             f"{verdict.detail}")
    if verdict.leaked_rejected is None:
        result.unproven = verdict.why
        record(StepOutcome("prove", "not provable", version, why=verdict.why))
        return
    detail = "; ".join(d for d in (proof.detail if proof else "", verdict.detail) if d)
    result.leak = LeakProof(leaked_rejected=True, sessions_terminated=proof.sessions_terminated if proof else 0,
                            detail=detail, state=proof.state if proof else None)
    record(StepOutcome("prove", "leaked value refused by every check", version, detail=verdict.detail))
