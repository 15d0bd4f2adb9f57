"""What a rotation run reports: one outcome per credential, the run's summary, and the run log (no values)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from rotation.kinds import CredentialKind
from rotation.protocol import ConsumerReload, StepOutcome
from rotation.states import STILL_LIVE, UNPROVEN, Ack, acked_state, state_counts

#: Receives each line of the run log.
LogFn = Callable[[str], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunLog:
    """The run log: one JSON line per step, ``{"ts", "secret", "step", "status", "version", ...}``."""

    def __init__(self, emit: LogFn | None = None) -> None:
        self.emit: LogFn = emit or (lambda _record: None)

    def __call__(self, secret: str, step: str, status: str | None, version: str | None = None,
                 **detail: object) -> None:
        record = {"ts": _now(), "secret": secret, "step": step, "status": status, "version": version, **detail}
        self.emit(json.dumps(record, default=str))

    def step(self, secret: str, outcome: StepOutcome) -> None:
        """One step of the rotation protocol."""
        self.emit(json.dumps({"ts": _now(), "secret": secret, **outcome.to_dict()}, default=str))


@dataclass(frozen=True)
class RevocationReport:
    """``--revoke`` for one token: the provider, what it answered to the revoke call and to the leaked token."""

    provider: str
    accepted: bool
    leaked_refused: bool | None
    call: str
    check: str


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
    consumers: list[ConsumerReload] = field(default_factory=list)
    #: ``--revoke``: the provider, and what it answered to the revoke call and to the leaked token after it.
    revocation: RevocationReport | None = None

    @property
    def consumer_failed(self) -> list[str]:
        """The consumers whose reload failed (the new value is current, they may not use it)."""
        return [c.consumer for c in self.consumers if not c.ok]

    def audit_fields(self) -> dict[str, Any]:
        """The audit log's fields for this outcome (its name goes in as ``secret``)."""
        d = asdict(self)
        d.pop("name")
        return d


def acked(outcome: SecretOutcome, kind: CredentialKind, ack: Ack) -> None:
    """An operator's acknowledgement: revoked at the provider, or rotated by hand (never proven here)."""
    outcome.state = acked_state(kind)
    if outcome.state == UNPROVEN:
        outcome.why = "rotated by hand: " + ack.proof()
    else:
        outcome.proof = "revoked at the provider: " + ack.proof()


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
