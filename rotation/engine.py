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

Where each part lives: :mod:`rotation.selection` (``--only``, the findings
match, ``--due``), :mod:`rotation.secret_run` (one secret: lock, lease,
checks, the protocol, its state), :mod:`rotation.revoking` (``--revoke``),
:mod:`rotation.unconfigured` (exposed findings no configured secret holds),
:mod:`rotation.summary` (outcomes, the summary, the run log).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from rotation.backends.base import SecretBackend, lease_owner
from rotation.config import RotationConfig
from rotation.errors import ConfigError, LeakStillValid, RotationError
from rotation.protocol import MODES
from rotation.revocation import ConfirmFn, earlier_revocations
from rotation.revoking import Revoking
from rotation.schedule import default_lock_dir
from rotation.secret_run import RunContext, run_secret
from rotation.selection import Exposure, Findings, match, select
from rotation.states import ACK_NAME, STILL_LIVE, Ack, read_acks, record_ack, unconfigured
from rotation.summary import LogFn, RotationSummary, RunLog, SecretOutcome
from rotation.unconfigured import report_unconfigured
from sanitize.audit import AuditLog
from sanitize.errors import SanitizeError
from sanitize.secret import Secret

__all__ = ["DEFAULT_AUDIT_LOG", "LogFn", "RotationSummary", "SecretOutcome", "acknowledge", "rotate"]

DEFAULT_AUDIT_LOG = "rotation-audit.log"


def rotate(config: RotationConfig, *, mode: str = "compromised", due: bool = False,
           only: str | Iterable[str] | None = None, findings: Findings | None = None,
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
    selected = select(config, only)
    backend = backend or config.backend.create()
    audit = audit or AuditLog(config.audit_log or Path.cwd() / DEFAULT_AUDIT_LOG)
    line = RunLog(log)
    identity = config.backend.identity
    summary = RotationSummary(mode=mode, backend=identity, dry_run=dry_run)
    acks = read_acks(audit)
    audit.append("rotation.start", backend=identity, mode=mode, due=due, dry_run=dry_run,
                 secrets=[s.name for s in selected])

    # Exposed secrets go first.
    exposure = Exposure()
    if findings is not None:
        exposure = match(config, selected, backend, findings, line)
        summary.exposed.extend(s.name for s in exposure.exposed)
        audit.append("rotation.exposed", backend=identity, secrets=summary.exposed)
        selected = exposure.exposed + [s for s in selected if s not in exposure.exposed]

    revoking = Revoking(config=config.revocation, earlier=earlier_revocations(audit), audit=audit, dry_run=dry_run,
                        history=dict(history or {}))
    # Exposed findings no configured secret holds (reported after the configured secrets).
    loose = (unconfigured(exposure.findings, exposure.other_matched.union(*exposure.by_secret.values()))
             if exposure.findings else [])
    if revoke:
        revoking.offer(selected, backend, exposure.by_secret if findings is not None else None, acks, loose,
                       confirm, line, identity)

    run = RunContext(backend=backend, mode=mode, due=due, dry_run=dry_run, now=now, identity=identity,
                     owner=lease_owner(), locks=lock_dir or config.lock_dir or default_lock_dir(), audit=audit,
                     line=line, acks=acks, exposure=exposure, revoking=revoking)
    leak_failures: list[str] = []
    for s in selected:
        outcome, leaked = run_secret(s, run)
        summary.outcomes.append(outcome)
        if leaked:
            leak_failures.append(s.name)

    for name in exposure.unselected:
        outcome = SecretOutcome(name=name, status="not selected", exposed=True, state=STILL_LIVE,
                                reason="exposed in history; not rotated because --only named other secrets",
                                action=f"run `git-sanitize rotate --only {name}` (with the same --findings)")
        line(name, "match", "not selected", reason=outcome.reason)
        summary.outcomes.append(outcome)
        audit.append("rotation.secret", secret=name, backend=identity, mode=mode, **outcome.audit_fields())
    if exposure.findings:
        report_unconfigured(loose, acks, summary, line, audit, identity, revoking)

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
