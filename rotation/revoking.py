"""``rotate --revoke`` across one run: which provider tokens to offer, the operator's confirmation, the revocation.

A GitHub, GitLab or Slack token that no configured target can rotate is
offered once, before anything changes; only the confirmed ones are revoked,
each through its provider's API (:mod:`rotation.revocation`), and counted
``revoked`` only when the provider then refuses it. A revocation an earlier run
proved is read back from the audit log. A token the scan found only in the
git history (no store holds it) is offered too when the purge's workdir holds
its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rotation.backends.base import SecretBackend
from rotation.config import SecretConfig
from rotation.errors import RotationError
from rotation.kinds import CredentialKind, detect
from rotation.revocation import (
    PROVIDERS,
    REVOKE_EVENT,
    Candidate,
    ConfirmFn,
    ProvenRevocation,
    RevocationConfig,
    candidate,
    revoke_one,
)
from rotation.states import REVOKED, Ack, FindingCredential, acked_exposures, retired_exposures
from rotation.summary import RevocationReport, RunLog, SecretOutcome
from sanitize.audit import AuditLog
from sanitize.secret import Secret

#: What a revoked token's outcome adds, for a token a store holds and for one found only in the history.
STORE_NOTE = "the store still holds the revoked token: put its replacement in the store and reload its users"
HISTORY_NOTE = "it was revoked at its provider: issue a replacement to every user of it"


@dataclass
class Revoking:
    """``--revoke`` across one run: the provider APIs, what the operator confirmed, what is revoked already."""

    config: RevocationConfig
    earlier: dict[str, ProvenRevocation]  # token SHA-256 -> how an earlier run (or this one) proved it revoked
    audit: AuditLog
    dry_run: bool = False
    candidates: dict[str, Candidate] = field(default_factory=dict)
    approved: dict[str, str] = field(default_factory=dict)  # secret name -> SHA-256 of the confirmed value
    history: dict[str, Secret] = field(default_factory=dict)  # finding SHA-256 -> its value, from the workdir

    def offer(self, selected: list[SecretConfig], backend: SecretBackend, exposure: dict[str, list[str]] | None,
              acks: dict[str, Ack], loose: list[FindingCredential], confirm: ConfirmFn | None, line: RunLog,
              identity: str) -> None:
        """Find the candidates and, unless this is a dry run, ask ``confirm`` once which to revoke (without
        ``confirm``: none). ``exposure``: what a scan's findings matched (None: no findings given)."""
        self.candidates = _candidates(selected, backend, self.config, exposure, acks, set(self.earlier))
        self.candidates.update(_history_candidates(loose, self, acks, self.audit))
        if self.dry_run or not self.candidates:
            return
        chosen = confirm(list(self.candidates.values())) if confirm is not None else set()
        for c in self.candidates.values():
            ok = c.name in chosen
            if ok:
                self.approved[c.name] = c.sha256
            line(c.name, "revoke", "confirmed" if ok else "declined", provider=c.provider, api_url=c.api_url)
        self.audit.append("rotation.revoke.confirm", backend=identity, confirmed=sorted(self.approved),
                          declined=sorted(set(self.candidates) - set(self.approved)))


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


def _history_candidates(loose: list[FindingCredential], revoking: Revoking, acks: dict[str, Ack],
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


def revoked(name: str, kind: CredentialKind, sha256: str, value: Secret | None, outcome: SecretOutcome,
            line: RunLog, revoking: Revoking, note: str) -> bool:
    """A provider token: proven revoked earlier, revoked now (confirmed), or why not. True when it is done.
    ``value`` is None when this run does not hold it (an earlier run's proof still counts)."""
    base = "" if note == STORE_NOTE else outcome.reason  # a history token keeps where it was found
    store_note = f"{base}; {note}" if base else note
    earlier = revoking.earlier.get(sha256)
    if earlier is not None:
        outcome.state, outcome.reason = REVOKED, store_note
        outcome.proof = f"{earlier.proof} (proven at {earlier.ts})"
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
    outcome.revocation = RevocationReport(provider=result.provider, accepted=result.accepted,
                                          leaked_refused=result.refused, call=result.call, check=result.check)
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
    revoking.earlier[value.sha256] = ProvenRevocation(proof=summary, ts=str(record["ts"]))
    outcome.status, outcome.state, outcome.proof, outcome.reason = "revoked", REVOKED, summary, store_note
    return True
