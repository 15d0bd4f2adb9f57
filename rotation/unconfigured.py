"""Exposed findings no configured secret holds: where each stands after the run.

Such a credential was rotated away by an earlier run, acknowledged by the
operator, revoked at its provider (now with ``--revoke`` and the workdir's
value, or by an earlier run), or it is still live and its outcome says how to
end it.
"""

from __future__ import annotations

from rotation.revocation import PROVIDERS
from rotation.revoking import HISTORY_NOTE, Revoking, revoked
from rotation.states import STILL_LIVE, Ack, FindingCredential, acked_exposures, retired_exposures
from rotation.summary import RotationSummary, RunLog, SecretOutcome, acked
from sanitize.audit import AuditLog


def report_unconfigured(loose: list[FindingCredential], acks: dict[str, Ack], summary: RotationSummary,
                        line: RunLog, audit: AuditLog, identity: str, revoking: Revoking) -> None:
    """One outcome per exposed finding no configured secret holds now, in the summary and the audit log.

    An acknowledged secret covers the findings it matched in earlier runs (its value was replaced by hand).
    """
    retired, acked_hashes = retired_exposures(audit), acked_exposures(audit, acks)
    for cred in loose:
        where = ", ".join(cred.paths[:3]) + (" …" if len(cred.paths) > 3 else "")
        outcome = SecretOutcome(name=cred.name, status="not in config", exposed=True, kind=cred.kind.id,
                                reason=f"{cred.kind.label} found in {where}; no configured secret holds it")
        earlier = retired.get(cred.sha256)
        ack = acks.get(cred.name) or acked_hashes.get(cred.sha256)
        if earlier is not None:
            outcome.state = earlier.state
            detail = earlier.proof or earlier.why
            outcome.proof = f"rotated as {earlier.secret} at {earlier.ts}" + (f": {detail}" if detail else "")
        elif ack is not None:
            acked(outcome, cred.kind, ack)
        elif not revoked(cred.name, cred.kind, cred.sha256, revoking.history.get(cred.sha256), outcome, line,
                         revoking, HISTORY_NOTE):
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
        audit.append("rotation.secret", secret=cred.name, backend=identity, **outcome.audit_fields())
