"""The rotation protocol for one secret: create → set → test → finish, with rollback.

Whatever the backend: a new value is staged as *pending* (never current),
set on the target, tested (the target accepts it and the store reads it
back), then promoted with check-and-set against the version we started
from. A failure at any step reverts the target to the old credential and
discards the pending value, so the store's current value is unchanged; the
error names the step. Compromised mode keeps no previous version and then
proves the leaked value is dead on the target.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rotation.backends.base import SecretBackend, SecretRef
from rotation.consumers import Consumer
from rotation.errors import LeakStillValid, PromotedButUnfinished, RotationError, TargetError
from rotation.generate import GenerateSpec, generate
from rotation.proofs import Proof, run_proofs
from rotation.targets.base import LeakProof, StoreOnly, Target
from sanitize.faults import fault_point
from sanitize.secret import Secret

MODES = ("compromised", "scheduled")
STEPS = ("read", "create", "set", "test", "finish", "retire", "consume", "prove")
#: Steps after the new value became current: a failure there is not rolled back.
AFTER_PROMOTION = ("retire", "consume", "prove")

StepLog = Callable[..., None]


@dataclass
class RotationResult:
    """What happened to one secret (no values): versions, per-step outcomes, leak proof."""

    name: str
    old_version: str | None = None
    new_version: str | None = None
    token: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    leak: LeakProof | None = None
    #: Why the configured proof checks could not decide (the leaked value was not accepted, nor shown refused).
    unproven: str = ""
    #: Each consumer's reload: ``{"consumer", "ok", "detail"}``.
    consumers: list[dict[str, Any]] = field(default_factory=list)


def _noop(**_: Any) -> None:
    pass


def _rollback(backend: SecretBackend, ref: SecretRef, target: Target, token: str, old: Secret,
              new: Secret, applied: bool) -> list[str]:
    """Undo what was done; returns what could not be undone (never raises)."""
    problems: list[str] = []
    if applied:
        try:
            target.revert(old, new)
        except RotationError as exc:
            problems.append(f"target revert failed ({exc})")
    try:
        backend.discard_pending(ref, token)
    except RotationError as exc:
        problems.append(f"discarding the pending value failed ({exc})")
    return problems


def _promoted(backend: SecretBackend, ref: SecretRef, new: Secret) -> bool:
    """Whether the store's current value is already ``new`` (a failure after the write)."""
    try:
        return backend.read_current(ref).value == new
    except RotationError:
        return False


def rotate_secret(backend: SecretBackend, ref: SecretRef, spec: GenerateSpec, target: Target | None = None, *,
                  mode: str = "compromised", token: str | None = None, log: StepLog = _noop,
                  consumers: Sequence[Consumer] = (), proofs: Sequence[Proof] = ()) -> RotationResult:
    """Rotate one secret; RotationError (step=...) after rolling back, LeakStillValid if the proof fails.

    After promotion: the target's ``promoted`` step ("retire": e.g. the old signing key leaves the JWKS), each
    consumer reloads, and in compromised mode the target's proof and every proof check run.

    ``log(step=, status=, version=, **detail)`` is called after every step (never with a value).
    """
    if mode not in MODES:
        raise RotationError(f"mode must be one of {', '.join(MODES)}")
    target = target or StoreOnly()
    token = token or str(uuid.uuid4())
    result = RotationResult(name=ref.name, token=token)

    def record(step: str, status: str, version: str | None = None, **detail: Any) -> None:
        entry = {"step": step, "status": status, "version": version, **detail}
        result.steps.append(entry)
        log(**entry)

    try:
        current = backend.read_current(ref)
    except RotationError as exc:
        record("read", "failed", error=str(exc))
        raise type(exc)(str(exc), step="read") from exc
    old = current.value
    result.old_version = current.version
    record("read", "ok", current.version)

    issue = getattr(target, "issue", None)
    new = old  # until a new value exists, a rollback has only the old one to restore
    applied = False
    step = "create"
    try:
        if callable(issue):
            # Targets that mint the credential themselves (Vault static roles) change it here.
            step, applied = "set", True
            new = issue(old)
            step = "create"
        else:
            new = generate(spec, old)
        backend.stage_pending(ref, new, token)
        record("create", "ok", current.version, token=token)
        fault_point("rotate:after-create")
        step = "set"
        applied = True  # a half-applied change is reverted too
        target.apply(old, new)
        record("set", "ok", current.version, target=target.kind)
        fault_point("rotate:after-set")
        step = "test"
        target.test(new)
        if backend.read_pending(ref, token) != new:
            raise RotationError("the store did not return the pending value that was written")
        record("test", "ok", current.version)
        fault_point("rotate:before-finish")
        step = "finish"
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
            record(step, "failed", None, error=message, rollback="none: the new value is already current")
            raise RotationError(f"promoted, but finishing failed: {message}; re-run to finish", step=step) from exc
        problems = _rollback(backend, ref, target, token, old, new, applied)
        suffix = "rolled back: store unchanged" + (", target reverted" if applied else "")
        if problems:
            suffix = "ROLLBACK INCOMPLETE: " + "; ".join(problems)
        # A vendor exception's text may echo a value: only our own errors' messages are shown.
        message = str(exc) if isinstance(exc, RotationError) else f"unexpected {type(exc).__name__}"
        output = getattr(exc, "output", "") if isinstance(exc, RotationError) else ""
        kept_output = {"output": output} if output else {}
        record(step, "failed", current.version, error=message, rollback=suffix, **kept_output)
        cls = type(exc) if isinstance(exc, RotationError) else RotationError
        raise cls(f"{message} ({suffix})", step=step) from exc
    record("finish", "ok", result.new_version, previous_kept=(mode == "scheduled"))
    _after_promotion(target, ref, old, new, mode, consumers, proofs, result, record)
    return result


def housekeep(target: Target, ref: SecretRef, consumers: Sequence[Consumer], now: datetime,
              log: StepLog = _noop) -> str:
    """A not-due run: the target's clean-up (e.g. retired JWKS keys), then the consumers reload if it did anything.

    TargetError if the clean-up or a consumer failed; returns what was done ("" for nothing).
    """
    def record(step: str, status: str, version: str | None = None, **detail: Any) -> None:
        log(step=step, status=status, version=version, **detail)

    done: str = _guarded("housekeep", record, None, "tidying up at the target",
                         functools.partial(target.housekeep, now))
    if not done:
        return ""
    record("housekeep", "ok", None, detail=done)
    for consumer in consumers:
        answer = _guarded("consume", record, None, f"reloading {consumer.label}",
                          functools.partial(consumer.reload, ref.name, None, ()))
        record("consume", "ok" if answer.ok else "failed", None, consumer=consumer.label, detail=answer.detail,
               output=answer.output)
        if not answer.ok:
            raise TargetError(f"housekeep: {consumer.label} did not reload ({answer.detail})")
    return done


def _guarded(step: str, record: Callable[..., None], version: str | None, what: str, call: Callable[[], Any]) -> Any:
    """Run a post-promotion call; our errors keep their text, anything else only its type (it may quote a value)."""
    try:
        return call()
    except TargetError as exc:
        record(step, "failed", version, error=str(exc))
        raise TargetError(str(exc), step=step) from exc
    except Exception as exc:  # noqa: BLE001 - a driver's message may quote the leaked value: type only
        message = f"unexpected {type(exc).__name__} while {what}"
        record(step, "failed", version, error=message)
        raise TargetError(message, step=step) from None


def _after_promotion(target: Target, ref: SecretRef, old: Secret, new: Secret, mode: str,
                     consumers: Sequence[Consumer], proofs: Sequence[Proof], result: RotationResult,
                     record: Callable[..., None]) -> None:
    """The new value is current: the target's own clean-up, the consumers' reload, then (compromised) the proof.

    Nothing here rolls back: reverting now would hand consumers the leaked value again.
    """
    version = result.new_version
    done = _guarded("retire", record, version, "retiring the old value at the target",
                    functools.partial(target.promoted, old, new, compromised=(mode == "compromised")))
    if done:
        record("retire", "ok", version, detail=done)
    for consumer in consumers:
        answer = _guarded("consume", record, version, f"reloading {consumer.label}",
                          functools.partial(consumer.reload, ref.name, version, (old, new)))
        record("consume", "ok" if answer.ok else "failed", version, consumer=consumer.label, detail=answer.detail,
               output=answer.output)
        result.consumers.append({"consumer": consumer.label, "ok": answer.ok, "detail": answer.detail})
    if mode != "compromised":
        return
    proof = _guarded("prove", record, version, "proving the leaked value dead",
                     functools.partial(target.prove_leak_dead, old))
    result.leak = proof
    if proof is not None:
        if not proof.leaked_rejected:
            record("prove", "failed", version, leaked_rejected=False, detail=proof.detail)
            raise LeakStillValid(f"prove: {ref.name}: the leaked credential still works on the {target.kind} "
                                 "target after rotation")
        record("prove", "leaked credential rejected" if proof.state is None else proof.state, version,
               sessions_terminated=proof.sessions_terminated, detail=proof.detail)
    verdict = _guarded("prove", record, version, "running the proof checks",
                       lambda: run_proofs(proofs, ref.name, old, new,
                                          lambda **d: record("prove", "check", version, **d)))
    if verdict is None:
        return
    if verdict.leaked_rejected is False:
        record("prove", "failed", version, leaked_rejected=False, detail=verdict.detail)
        raise LeakStillValid(f"prove: {ref.name}: the leaked value is still accepted after rotation: "
                             f"{verdict.detail}")
    if verdict.leaked_rejected is None:
        result.unproven = verdict.why
        record("prove", "not provable", version, why=verdict.why)
        return
    detail = "; ".join(d for d in (proof.detail if proof else "", verdict.detail) if d)
    result.leak = LeakProof(leaked_rejected=True, sessions_terminated=proof.sessions_terminated if proof else 0,
                            detail=detail, state=proof.state if proof else None)
    record("prove", "leaked value refused by every check", version, detail=verdict.detail)
