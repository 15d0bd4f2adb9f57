"""``rotate()``: run the protocol over the configured secrets, in either mode.

Order of work: match stored values against a scan's findings (exposed
secrets go first), then per secret: take its local lock, then its lease in
the store itself (a check-and-set write that binds runs on every host;
either held → skip, "locked by another run"), with ``due`` check its age
*under the lease* (so a run that waited behind another sees the fresh
rotation and skips), then rotate.
Every step goes to ``log`` as a JSON-able record and every secret's outcome
to the append-only audit log; neither ever holds a value.

A secret that fails is rolled back by the protocol and the run goes on with
the others; the run then raises (exit 1) naming the failures. Unreachable
store, refused token or bad config raise at once (exit 2).

Before anything is changed, the stored value's kind (:mod:`rotation.kinds`)
must be one the configured target can rotate: a MySQL DSN without a
``mysql`` target, or a GitHub token in a store, is left untouched and
reported ``still-live`` with the exact step. Every rotated, failed or exposed
credential gets one of the four states of :mod:`rotation.states`; exposed
findings that no configured secret holds are listed too. The summary's
``exit_code`` is 1 while any of them is ``still-live``.

With ``revoke`` (``rotate --revoke``), a GitHub, GitLab or Slack token that
no target can rotate is revoked through its provider's API once the
operator confirmed it, and is ``revoked`` only when the provider then
refuses it (:mod:`rotation.revocation`); a revocation proven by an earlier
run is read back from the audit log. With ``history`` (the values the purge's
workdir holds, :mod:`rotation.revocation.history`) the same goes for such a
token the scan found only in the git history, which no store holds: it is
offered under its finding's name (``rule:hash8``) with the first path it was
found in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rotation.backends.base import Lease, SecretBackend, lease_owner
from rotation.config import RotationConfig, SecretConfig
from rotation.errors import ConfigError, LeakStillValid, LeaseHeld, RotationError
from rotation.generate import exposure_hashes
from rotation.kinds import detect
from rotation.protocol import AFTER_PROMOTION, LEASE_TTL, MODES, RotationResult, housekeep, rotate_secret
from rotation.revocation import (
    PROVIDERS,
    REVOKE_EVENT,
    Candidate,
    ConfirmFn,
    RevocationConfig,
    candidate,
    earlier_revocations,
    revoke_one,
)
from rotation.schedule import Locked, SecretLock, default_lock_dir, is_due
from rotation.states import (
    ACK_NAME,
    PROVEN_DEAD,
    REVOKED,
    STILL_LIVE,
    UNPROVEN,
    Ack,
    FindingCredential,
    acked_exposures,
    acked_state,
    read_acks,
    record_ack,
    retired_exposures,
    state_counts,
    unconfigured,
)
from sanitize.audit import AuditLog
from sanitize.errors import SanitizeError
from sanitize.scan.report import ScanReport
from sanitize.secret import Secret

LogFn = Callable[[str], None]
DEFAULT_AUDIT_LOG = "rotation-audit.log"


@dataclass
class SecretOutcome:
    """One credential's result.

    ``status`` is what this run did: ``rotated``, ``would rotate``, ``not due``,
    ``skipped``, ``failed``, ``not rotated`` (the config cannot rotate this kind), ``revoked`` (a provider
    token revoked at its provider by ``--revoke`` and proven refused there),
    ``not selected`` (exposed, but ``--only`` named others) or ``not in config``
    (an exposed finding no configured secret holds).
    ``state`` is where the credential stands (:mod:`rotation.states`), set for
    everything rotated, failed or exposed; ``proof`` says what was proven,
    ``why`` why a ``rotated-unproven`` one could not be, ``action`` what the
    operator must do while it is ``still-live``.
    """

    name: str
    status: str
    reason: str = ""
    exposed: bool = False
    old_version: str | None = None
    new_version: str | None = None
    leaked_rejected: bool | None = None
    sessions_terminated: int | None = None
    kind: str | None = None
    state: str | None = None
    proof: str = ""
    why: str = ""
    action: str = ""
    consumers: list[dict[str, Any]] = field(default_factory=list)
    #: ``--revoke``: the provider, and what it answered to the revoke call and to the leaked token after it.
    revocation: dict[str, Any] | None = None

    @property
    def consumer_failed(self) -> list[str]:
        """The consumers whose reload failed (the new value is current, they may not use it)."""
        return [str(c["consumer"]) for c in self.consumers if not c.get("ok")]


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
    def still_live(self) -> list[str]:
        """Names of the credentials whose leaked value still works (or is not known not to)."""
        return [o.name for o in self.outcomes if o.state == STILL_LIVE]

    @property
    def states(self) -> dict[str, list[str]]:
        """Names per final state (only credentials that have one)."""
        return state_counts({o.name: o.state for o in self.outcomes})

    def raise_if_still_live(self, then: str) -> None:
        """StillLive (exit 1) naming every credential whose leaked value still works, followed by ``then``
        (what to do next, with its own leading separator)."""
        if self.still_live:
            from rotation.errors import StillLive

            raise StillLive(f"{len(self.still_live)} exposed credential(s) still live: "
                            f"{', '.join(self.still_live)}{then}")

    @property
    def exit_code(self) -> int:
        """0 when nothing failed and nothing exposed is still live, else 1.

        A consumer that failed to reload leaves its secret ``still-live`` unless a proof showed the leaked
        value refused (and the new one accepted) where it is used."""
        return 1 if self.failed or self.still_live else 0

    def __str__(self) -> str:
        parts = [f"{self.mode} rotation on {self.backend}" + (" (dry run)" if self.dry_run else "")]
        if self.exposed:
            parts.append("exposed in history: " + ", ".join(self.exposed))
        for status in ("rotated", "revoked", "would rotate", "not due", "skipped", "failed", "not rotated",
                       "not selected", "not in config"):
            names = self.named(status)
            if names:
                parts.append(f"{status}: {', '.join(names)}")
        for state, names in self.states.items():
            parts.append(f"{state}: {', '.join(names)}")
        if not self.outcomes:
            parts.append("nothing to do")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the CLI's final log line)."""
        return {"mode": self.mode, "backend": self.backend, "dry_run": self.dry_run, "exposed": self.exposed,
                "rotated": self.rotated, "revoked": self.named("revoked"), "failed": self.failed,
                "still_live": self.still_live,
                "states": self.states, "outcomes": [asdict(o) for o in self.outcomes]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load_findings(findings: str | os.PathLike[str] | ScanReport | Iterable[str]) -> tuple[set[str], list[Any]]:
    """The exposed hashes, and the findings themselves when we have them (not for a bare hash list)."""
    if isinstance(findings, str | os.PathLike):
        findings = ScanReport.load(Path(findings))
    if isinstance(findings, ScanReport):
        return {f.secret_sha256 for f in findings.findings}, list(findings.findings)
    return {str(h) for h in findings}, []


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
           lock_dir: Path | None = None, revoke: bool = False, confirm: ConfirmFn | None = None,
           history: Mapping[str, Secret] | None = None) -> RotationSummary:
    """Rotate the configured secrets; see the module docstring. ``now`` fakes the clock for ``due``.

    ``revoke``: provider tokens no target can rotate (GitHub, GitLab, Slack) are revoked at the provider
    (:mod:`rotation.revocation`), each only if ``confirm`` (called once, before anything changes, with every
    candidate) returns its name. Without ``confirm`` nothing is revoked. ``history`` (SHA-256 → value, read
    from the purge's workdir) adds the exposed findings no configured secret holds whose value it has.

    ``log`` receives one JSON line per step: ``{"ts", "secret", "step", "status", "version", ...}``.

    Raises ConfigError/BackendUnavailable (exit 2) for bad input, and after the
    whole run RotationError or LeakStillValid (exit 1) if any secret failed.
    A run where nothing failed but something exposed is still live returns a
    summary whose ``exit_code`` is 1 (the CLI exits with it).
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    selected = _select(config, only)
    backend = backend or config.backend.create()
    audit = audit or AuditLog(config.audit_log or Path.cwd() / DEFAULT_AUDIT_LOG)
    emit: LogFn = log or (lambda _record: None)
    locks = lock_dir or config.lock_dir or default_lock_dir()
    identity = config.backend.identity
    owner = lease_owner()  # this run, in store leases
    summary = RotationSummary(mode=mode, backend=identity, dry_run=dry_run)
    leak_failures: list[str] = []
    acks = read_acks(audit)
    exposure: dict[str, list[str]] = {}  # secret name -> the finding hashes its current value matches

    def line(secret: str, step: str, status: str, version: str | None = None, **detail: Any) -> None:
        record = {"ts": _now(), "secret": secret, "step": step, "status": status, "version": version, **detail}
        emit(json.dumps(record, default=str))

    audit.append("rotation.start", backend=identity, mode=mode, due=due, dry_run=dry_run,
                 secrets=[s.name for s in selected])

    finding_list: list[Any] = []
    hashes: set[str] = set()
    other_matched: set[str] = set()  # exposed hashes held by configured secrets outside --only
    unselected: list[str] = []  # those secrets: exposed and still live, but not asked for
    if findings is not None:
        hashes, finding_list = _load_findings(findings)
        exposed: list[SecretConfig] = []
        for s in config.secrets:
            if s not in selected:  # not rotated now, but what it holds is not "in no configured secret"
                try:
                    held = _hits(s, backend, hashes)
                except SanitizeError:
                    continue
                if held:
                    other_matched.update(held)
                    unselected.append(s.name)
        for s in selected:
            try:
                hits = sorted(_hits(s, backend, hashes))
            except SanitizeError as exc:
                if exc.exit_code == 2:
                    raise
                line(s.name, "match", "failed", error=str(exc))
                continue
            if hits:
                exposure[s.name] = hits
                exposed.append(s)
                summary.exposed.append(s.name)
                line(s.name, "match", f"exposed in history: {s.name}")
        audit.append("rotation.exposed", backend=identity, secrets=summary.exposed)
        selected = exposed + [s for s in selected if s not in exposed]

    revoking = _Revoking(config=config.revocation, earlier=earlier_revocations(audit), audit=audit, dry_run=dry_run,
                         history=dict(history or {}))
    # Exposed findings no configured secret holds (reported after the configured secrets).
    loose = unconfigured(finding_list, other_matched.union(*exposure.values())) if finding_list else []
    if revoke:
        revoking.candidates = _candidates(selected, backend, config.revocation, exposure if findings is not None
                                          else None, acks, set(revoking.earlier))
        revoking.candidates.update(_history_candidates(loose, revoking, acks, audit))
        if not dry_run and revoking.candidates:
            chosen = confirm(list(revoking.candidates.values())) if confirm is not None else set()
            for c in revoking.candidates.values():
                ok = c.name in chosen
                if ok:
                    revoking.approved[c.name] = c.sha256
                line(c.name, "revoke", "confirmed" if ok else "declined", provider=c.provider, api_url=c.api_url)
            audit.append("rotation.revoke.confirm", backend=identity, confirmed=sorted(revoking.approved),
                         declined=sorted(set(revoking.candidates) - set(revoking.approved)))

    for s in selected:
        outcome = SecretOutcome(name=s.name, status="failed", exposed=s.name in summary.exposed)
        lock = SecretLock(locks, identity, s.name)
        try:
            lock.acquire()
        except Locked:
            _skipped(s, mode, outcome, "locked by another run", line)
            summary.outcomes.append(outcome)
            audit.append("rotation.secret", secret=s.name, backend=identity, mode=mode, **_fields(outcome))
            continue
        steps: list[dict[str, Any]] = []
        lease: Lease | None = None
        promoted = False  # a failure after promotion: the new value is current, nothing was rolled back
        try:
            # A dry run writes nothing, not even a lease.
            lease = None if dry_run else backend.acquire_lease(s.ref, owner, LEASE_TTL)
            _one(s, backend, mode=mode, due=due, dry_run=dry_run, now=now, outcome=outcome, steps=steps,
                 line=line, ack=acks.get(s.name), still_exposed=bool(exposure.get(s.name)), lease=lease,
                 exposed_hashes=hashes, revoking=revoking)
        except LeaseHeld as exc:
            _skipped(s, mode, outcome, f"locked by another run: {exc}", line)
        except LeakStillValid as exc:
            outcome.status, outcome.reason, outcome.leaked_rejected = "failed", str(exc), False
            leak_failures.append(s.name)
            promoted = True
        except RotationError as exc:
            if exc.exit_code == 2:
                audit.append("rotation.aborted", backend=identity, secret=s.name, reason=str(exc))
                raise
            outcome.status, outcome.reason = "failed", str(exc)
            promoted = exc.step in AFTER_PROMOTION
        finally:
            if lease is not None:
                backend.release_lease(s.ref, lease)
            lock.release()
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
        summary.outcomes.append(outcome)
        extra = {"exposure_sha256": exposure[s.name]} if s.name in exposure else {}
        audit.append("rotation.secret", secret=s.name, backend=identity, mode=mode, steps=steps,
                     **_fields(outcome), **extra)

    for name in unselected:
        outcome = SecretOutcome(name=name, status="not selected", exposed=True, state=STILL_LIVE,
                                reason="exposed in history; not rotated because --only named other secrets",
                                action=f"run `git-sanitize rotate --only {name}` (with the same --findings)")
        line(name, "match", "not selected", reason=outcome.reason)
        summary.outcomes.append(outcome)
        audit.append("rotation.secret", secret=name, backend=identity, mode=mode, **_fields(outcome))
    if finding_list:
        _unconfigured(loose, acks, summary, line, audit, identity, revoking)

    audit.append("rotation.end", backend=identity, mode=mode, rotated=summary.rotated,
                 revoked=summary.named("revoked"), failed=summary.failed,
                 skipped=summary.named("skipped"), not_due=summary.named("not due"), exposed=summary.exposed,
                 still_live=summary.still_live, states=summary.states)
    if summary.failed:
        reasons = "; ".join(f"{o.name}: {o.reason}" for o in summary.outcomes if o.status == "failed")
        message = f"{len(summary.failed)} of {len(selected)} secrets not rotated — {reasons}"
        err: SanitizeError = LeakStillValid(message) if leak_failures else RotationError(message)
        err.summary = summary  # type: ignore[attr-defined]
        raise err
    return summary


def _unconfigured(loose: list[FindingCredential], acks: dict[str, Ack], summary: RotationSummary,
                  line: Callable[..., None], audit: AuditLog, identity: str, revoking: _Revoking) -> None:
    """Exposed findings no configured secret holds now: rotated by an earlier run, acknowledged, revoked at its
    provider (now with ``--revoke`` and the workdir's value, or by an earlier run), or still live.

    An acknowledged secret covers the findings it matched in earlier runs (its value was replaced by hand).
    """
    retired, acked = retired_exposures(audit), acked_exposures(audit, acks)
    for cred in loose:
        where = ", ".join(cred.paths[:3]) + (" …" if len(cred.paths) > 3 else "")
        outcome = SecretOutcome(name=cred.name, status="not in config", exposed=True, kind=cred.kind.id,
                                reason=f"{cred.kind.label} found in {where}; no configured secret holds it")
        earlier = retired.get(cred.sha256)
        ack = acks.get(cred.name) or acked.get(cred.sha256)
        if earlier is not None:
            outcome.state = str(earlier["state"])
            detail = earlier["proof"] or earlier["why"]
            outcome.proof = f"rotated as {earlier['secret']} at {earlier['ts']}" + (f": {detail}" if detail else "")
        elif ack is not None:
            _acked(outcome, cred.kind, ack)
        elif not _revoked(cred.name, cred.kind, cred.sha256, revoking.history.get(cred.sha256), outcome, line,
                          revoking, _HISTORY_NOTE):
            outcome.state, outcome.action = STILL_LIVE, cred.kind.instruction(cred.name, configured=False)
            provider = PROVIDERS.get(cred.kind.id)
            if provider is not None and outcome.revocation is None and cred.name not in revoking.candidates:
                where = ("the same --workdir" if cred.sha256 in revoking.history
                         else "the purge's workdir, whose plan.secrets holds its value")
                outcome.action = (f"run `git-sanitize rotate --revoke --workdir WORKDIR` ({where}) to revoke it "
                                  f"through {provider.label}'s API, or " + outcome.action)
        line(cred.name, "exposure", outcome.state, kind=cred.kind.id, reason=outcome.reason,
             **({"action": outcome.action} if outcome.action else {"proof": outcome.proof or outcome.why}))
        summary.outcomes.append(outcome)
        audit.append("rotation.secret", secret=cred.name, backend=identity, **_fields(outcome))


def acknowledge(config: RotationConfig, names: list[str], *, note: str = "", audit: AuditLog | None = None
                ) -> list[Ack]:
    """Record ``rotate --ack``: each name is a configured secret or an exposed finding's ``rule:hash8`` name."""
    for name in names:
        if name not in {s.name for s in config.secrets} and not ACK_NAME.fullmatch(name):
            raise ConfigError(f"--ack {name!r}: not a secret in the config nor a finding name (rule:hash8)")
    if note and not note.isprintable():
        raise ConfigError("--note must be one line of printable text")
    log = audit or AuditLog(config.audit_log or Path.cwd() / DEFAULT_AUDIT_LOG)
    return [record_ack(log, name, note) for name in names]


def _acked(outcome: SecretOutcome, kind: Any, ack: Ack) -> None:
    """An operator's acknowledgement: revoked at the provider, or rotated by hand (never proven here)."""
    outcome.state = acked_state(kind)
    if outcome.state == UNPROVEN:
        outcome.why = "rotated by hand: " + ack.proof()
    else:
        outcome.proof = "revoked at the provider: " + ack.proof()


def _skipped(s: SecretConfig, mode: str, outcome: SecretOutcome, reason: str, line: Callable[..., None]) -> None:
    """Another run (local lock or store lease) has this secret: leave it to that run."""
    outcome.status, outcome.reason = "skipped", reason
    line(s.name, "lock", "skipped", reason=reason)
    if outcome.exposed or mode == "compromised":
        outcome.state = STILL_LIVE
        outcome.action = (f"another run holds {s.name}'s lock: check that run's result, or re-run "
                          f"`git-sanitize rotate --only {s.name}` once it has finished")


def _fields(outcome: SecretOutcome) -> dict[str, Any]:
    d = asdict(outcome)
    d.pop("name")
    return d


def _hits(s: SecretConfig, backend: SecretBackend, hashes: set[str]) -> set[str]:
    """The finding hashes the secret's value matches: the stored value, and the live one where a target has
    its own (a Vault static role's password). A DSN counts whether the scan hashed its password or all of it;
    a JSON value, whichever of its members the scan reported."""
    values = [backend.read_current(s.ref).value]
    live = getattr(s.target, "live_value", None)
    if callable(live):
        values.append(live(values[0]))
    return {h for v in values for h in exposure_hashes(v)} & hashes


def _last_rotated(s: SecretConfig, backend: SecretBackend) -> datetime | None:
    """The age ``--due`` compares: the target's own clock where it rotates by itself (Vault static roles,
    ``last_vault_rotation``), else the store's version metadata for this key."""
    own = getattr(s.target, "last_rotated", None)
    return own() if callable(own) else backend.last_rotated(s.ref)


def _drift(s: SecretConfig, backend: SecretBackend) -> str:
    """Why the secret is due whatever its age: the store's copy is not the credential that works now."""
    live = getattr(s.target, "live_value", None)
    if not callable(live):
        return ""
    stored = backend.read_current(s.ref).value
    if live(stored) != stored:
        return f"the store's copy differs from the live {s.target.kind} credential (it was rotated elsewhere)"
    return ""


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


def _one(s: SecretConfig, backend: SecretBackend, *, mode: str, due: bool, dry_run: bool, now: datetime | None,
         outcome: SecretOutcome, steps: list[dict[str, Any]], line: Callable[..., None], ack: Ack | None = None,
         still_exposed: bool = False, lease: Lease | None = None, exposed_hashes: set[str] | None = None,
         revoking: _Revoking | None = None) -> None:
    """One secret, under its lock: the due check, the kind check, then a dry run or the protocol."""
    if due:
        try:
            # Re-read under the lease: another run may have replaced an exposed value since the match.
            exposed_now = bool(exposed_hashes) and bool(_hits(s, backend, exposed_hashes or set()))
            forced = "its value is exposed in history" if exposed_now else _drift(s, backend)
            last = _last_rotated(s, backend)
        except RotationError as exc:
            raise type(exc)(str(exc), step="due") from exc
        stamp = last.isoformat() if last else None
        if not forced and not is_due(last, s.max_age, now):
            outcome.status = "not due"
            outcome.reason = "no max_age" if s.max_age is None else f"rotated less than {s.max_age} ago"
            if outcome.exposed and not exposed_now:  # replaced under another run's lease meanwhile
                outcome.exposed = False
                outcome.reason += " (the exposed value was already replaced by another run)"
            line(s.name, "due", "not due", last_rotated=stamp)
            tidied = "" if dry_run else housekeep(s.target, s.ref, s.consumers, now or datetime.now(UTC),
                                                  log=lambda **e: line(s.name, **e))
            if tidied:  # e.g. JWKS keys whose grace window ended left the set
                outcome.reason += f"; {tidied}"
            return
        line(s.name, "due", "due", last_rotated=stamp, **({"reason": forced} if forced else {}))
    try:
        current = backend.read_current(s.ref)
    except RotationError as exc:
        raise type(exc)(str(exc), step="read") from exc
    kind = detect(s.name, current.value)
    outcome.kind = kind.id
    if not kind.accepts(s.target.kind):
        _cannot_rotate(s, kind, outcome, line, ack, still_exposed, current.value, revoking)
        return
    if dry_run:
        outcome.status, outcome.old_version = "would rotate", current.version
        outcome.reason = f"dry run: would rotate ({mode}, target {s.target.kind})"
        line(s.name, "plan", "would rotate", current.version, target=s.target.kind,
             consumers=[c.label for c in s.consumers], proofs=[p.label for p in s.proofs])
        return

    def step_log(**entry: Any) -> None:
        steps.append(entry)
        line(s.name, **entry)

    result = rotate_secret(backend, s.ref, s.generate, s.target, mode=mode, log=step_log, consumers=s.consumers,
                           proofs=s.proofs, lease=lease)
    outcome.status = "rotated"
    outcome.old_version, outcome.new_version = result.old_version, result.new_version
    if result.leak is not None:
        outcome.leaked_rejected = result.leak.leaked_rejected
        outcome.sessions_terminated = result.leak.sessions_terminated
    _state_of(s, mode, result, outcome)
    line(s.name, "state", outcome.state, result.new_version,
         **({"proof": outcome.proof} if outcome.proof else {"why": outcome.why}))


def _cannot_rotate(s: SecretConfig, kind: Any, outcome: SecretOutcome, line: Callable[..., None], ack: Ack | None,
                   still_exposed: bool, value: Secret | None = None, revoking: _Revoking | None = None) -> None:
    """The config cannot rotate this kind: leave the store alone, say what to do (or what was acknowledged,
    or revoke it at its provider with ``--revoke``)."""
    outcome.status = "not rotated"
    if s.target.kind == "none":
        outcome.reason = (f"configuration error: {s.name} holds {kind.label}, which a store-only rotation cannot "
                          "change where it is checked; the store was left unchanged")
    else:
        outcome.reason = (f"configuration error: {s.name} holds {kind.label}, which the {s.target.kind} target "
                          "cannot rotate; the store was left unchanged")
    if ack is not None and not still_exposed:
        _acked(outcome, kind, ack)
        line(s.name, "state", outcome.state, kind=kind.id, proof=outcome.proof or outcome.why)
        return
    if value is not None and revoking is not None and _revoked(s.name, kind, value.sha256, value, outcome, line,
                                                               revoking, _STORE_NOTE):
        return
    outcome.state, outcome.action = STILL_LIVE, kind.instruction(s.name)
    provider = PROVIDERS.get(kind.id)
    if provider is not None and outcome.revocation is None and not (revoking and s.name in revoking.candidates):
        outcome.action = (f"run `git-sanitize rotate --revoke --only {s.name}` to revoke it through "
                          f"{provider.label}'s API, or " + outcome.action)
    if ack is not None:
        outcome.action = (f"{s.name} was acknowledged ({ack.proof()}) but the store still holds the leaked "
                          f"value: put the replacement in the store; " + outcome.action)
    line(s.name, "kind", "not rotated", kind=kind.id, reason=outcome.reason, action=outcome.action)


@dataclass
class _Revoking:
    """``--revoke`` across one run: the provider APIs, what the operator confirmed, what is revoked already."""

    config: RevocationConfig
    earlier: dict[str, dict[str, Any]]  # token SHA-256 -> the audit record that proved it revoked
    audit: AuditLog
    dry_run: bool = False
    candidates: dict[str, Candidate] = field(default_factory=dict)
    approved: dict[str, str] = field(default_factory=dict)  # secret name -> SHA-256 of the confirmed value
    history: dict[str, Secret] = field(default_factory=dict)  # finding SHA-256 -> its value, from the workdir


def _candidates(selected: list[SecretConfig], backend: SecretBackend, config: RevocationConfig,
                exposure: dict[str, list[str]] | None, acks: dict[str, Ack], revoked: set[str]
                ) -> dict[str, Candidate]:
    """The selected secrets ``--revoke`` would revoke: provider tokens no configured target rotates, exposed
    ones only when a scan's findings say what is exposed, and not those acknowledged as done or proven
    revoked by an earlier run (``revoked``: their SHA-256)."""
    out: dict[str, Candidate] = {}
    for s in selected:
        if exposure is not None and s.name not in exposure:
            continue
        if s.name in acks and not (exposure or {}).get(s.name):
            continue
        try:
            value = backend.read_current(s.ref).value
        except RotationError as exc:
            if exc.exit_code == 2:
                raise
            continue  # the main loop reports it
        kind = detect(s.name, value)
        if kind.accepts(s.target.kind) or value.sha256 in revoked:
            continue
        c = candidate(s.name, kind.id, kind.label, value, config)
        if c is not None:
            out[s.name] = c
    return out


def _history_candidates(loose: list[FindingCredential], revoking: _Revoking, acks: dict[str, Ack],
                        audit: AuditLog) -> dict[str, Candidate]:
    """The exposed findings no store holds that ``--revoke`` would revoke: provider tokens whose value the
    workdir holds, not acknowledged, not rotated away or revoked by an earlier run."""
    retired, acked = retired_exposures(audit), acked_exposures(audit, acks)
    out: dict[str, Candidate] = {}
    for cred in loose:
        value = revoking.history.get(cred.sha256)
        if value is None or cred.name in acks or cred.sha256 in acked or cred.sha256 in retired \
                or cred.sha256 in revoking.earlier:
            continue
        c = candidate(cred.name, cred.kind.id, cred.kind.label, value, revoking.config,
                      found_in=cred.paths[0] if cred.paths else "")
        if c is not None:
            out[cred.name] = c
    return out


_STORE_NOTE = "the store still holds the revoked token: put its replacement in the store and reload its users"
_HISTORY_NOTE = "it was revoked at its provider: issue a replacement to every user of it"


def _revoked(name: str, kind: Any, sha256: str, value: Secret | None, outcome: SecretOutcome,
             line: Callable[..., None], revoking: _Revoking, note: str) -> bool:
    """A provider token: proven revoked earlier, revoked now (confirmed), or why not. True when it is done.
    ``value`` is None when this run does not hold it (an earlier run's proof still counts)."""
    base = "" if note == _STORE_NOTE else outcome.reason  # a history token keeps where it was found
    store_note = f"{base}; {note}" if base else note
    earlier = revoking.earlier.get(sha256)
    if earlier is not None:
        outcome.state, outcome.reason = REVOKED, store_note
        outcome.proof = f"{earlier.get('proof', 'revoked at the provider')} (proven at {earlier.get('ts', '?')})"
        line(name, "state", REVOKED, kind=kind.id, proof=outcome.proof)
        return True
    confirmed = revoking.approved.get(name)
    if confirmed is None or value is None:
        if name in revoking.candidates:
            c = revoking.candidates[name]
            outcome.reason += (f"; dry run: --revoke would ask to revoke it at {c.provider}" if revoking.dry_run
                               else f"; revocation at {c.provider} was declined at the confirmation")
        return False
    if confirmed != value.sha256:
        outcome.reason += "; not revoked: the stored value changed after the confirmation (re-run to confirm again)"
        return False
    result = revoke_one(kind.id, value, revoking.config)
    summary = result.summary()
    outcome.revocation = {"provider": result.provider, "accepted": result.accepted,
                          "leaked_refused": result.refused, "call": result.call, "check": result.check}
    record = revoking.audit.append(REVOKE_EVENT, secret=name, provider=result.provider,
                                   api_url=revoking.config.endpoint(PROVIDERS[kind.id]).api_url,
                                   accepted=result.accepted, leaked_refused=result.refused, proven=result.proven,
                                   call=result.call, check=result.check, proof=summary if result.proven else "",
                                   reason="" if result.proven else summary, token_sha256=value.sha256)
    line(name, "revoke", "revoked" if result.proven else "not proven", provider=result.provider,
         **({"proof": summary} if result.proven else {"reason": summary}))
    if not result.proven:
        outcome.reason = f"{base}; {summary}" if base else summary
        return False
    revoking.earlier[value.sha256] = {**record, "proof": summary}
    outcome.status, outcome.state, outcome.proof, outcome.reason = "revoked", REVOKED, summary, store_note
    return True
