"""Which configured secrets a run rotates, in what order, and whether each is due.

``--only`` narrows the config's secrets; a scan's findings then put the
secrets whose stored (or live) value they name first, and note the exposed
values held by configured secrets outside ``--only``. ``--due`` is decided
per secret under its lease: an exposed value or a store that lost track of
the live credential makes it due whatever its age.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rotation.backends.base import SecretBackend
from rotation.config import RotationConfig, SecretConfig
from rotation.errors import RotationError
from rotation.generate import exposure_hashes
from rotation.summary import RunLog
from sanitize.errors import SanitizeError
from sanitize.scan.report import Finding, ScanReport

#: What ``rotate(findings=...)`` accepts: a findings file, a loaded report, or bare SHA-256 hashes.
Findings = str | os.PathLike[str] | ScanReport | Iterable[str]


def select(config: RotationConfig, only: str | Iterable[str] | None) -> list[SecretConfig]:
    """The configured secrets ``--only`` names (all of them without it)."""
    if only is None:
        return list(config.secrets)
    names = [only] if isinstance(only, str) else list(only)
    return [config.secret(n) for n in names]


def load_findings(findings: Findings) -> tuple[set[str], list[Finding]]:
    """The exposed hashes, and the findings themselves when we have them (not for a bare hash list)."""
    if isinstance(findings, str | os.PathLike):
        findings = ScanReport.load(Path(findings))
    if isinstance(findings, ScanReport):
        return {f.secret_sha256 for f in findings.findings}, list(findings.findings)
    return {str(h) for h in findings}, []


def hits(s: SecretConfig, backend: SecretBackend, hashes: set[str]) -> set[str]:
    """The finding hashes the secret's value matches: the stored value, and the live one where a target has
    its own (a Vault static role's password). A DSN counts whether the scan hashed its password or all of it;
    a JSON value, whichever of its members the scan reported."""
    values = [backend.read_current(s.ref).value]
    live = getattr(s.target, "live_value", None)
    if callable(live):
        values.append(live(values[0]))
    return {h for v in values for h in exposure_hashes(v)} & hashes


@dataclass
class Exposure:
    """What a scan's findings say about this run's secrets (all empty without findings)."""

    hashes: set[str] = field(default_factory=set)  # every exposed hash the findings name
    findings: list[Finding] = field(default_factory=list)  # the findings themselves (none for bare hashes)
    by_secret: dict[str, list[str]] = field(default_factory=dict)  # secret name -> the hashes its value matches
    exposed: list[SecretConfig] = field(default_factory=list)  # the selected secrets that hold an exposed value
    other_matched: set[str] = field(default_factory=set)  # exposed hashes held by configured secrets outside --only
    unselected: list[str] = field(default_factory=list)  # those secrets: exposed and still live, but not asked for


def match(config: RotationConfig, selected: list[SecretConfig], backend: SecretBackend, findings: Findings,
          line: RunLog) -> Exposure:
    """Match every configured secret's value against the findings; a selected secret that cannot be read is
    logged and left for the rotation to report (a bad-input error, exit 2, raises)."""
    hashes, finding_list = load_findings(findings)
    exposure = Exposure(hashes=hashes, findings=finding_list)
    for s in config.secrets:
        if s not in selected:  # not rotated now, but what it holds is not "in no configured secret"
            try:
                held = hits(s, backend, hashes)
            except SanitizeError:
                continue
            if held:
                exposure.other_matched.update(held)
                exposure.unselected.append(s.name)
    for s in selected:
        try:
            found = sorted(hits(s, backend, hashes))
        except SanitizeError as exc:
            if exc.exit_code == 2:
                raise
            line(s.name, "match", "failed", error=str(exc))
            continue
        if found:
            exposure.by_secret[s.name] = found
            exposure.exposed.append(s)
            line(s.name, "match", f"exposed in history: {s.name}")
    return exposure


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


@dataclass(frozen=True)
class Due:
    """``--due`` for one secret, read under its lease."""

    exposed_now: bool  # its value is (still) one the findings name
    forced: str  # why it is due whatever its age ("" for no reason)
    last: datetime | None  # when it was last rotated, if known

    @property
    def stamp(self) -> str | None:
        """``last`` for the log."""
        return self.last.isoformat() if self.last else None


def check_due(s: SecretConfig, backend: SecretBackend, exposed_hashes: set[str] | None) -> Due:
    """What ``--due`` needs to know about ``s`` (RotationError with step "due" when the store cannot say)."""
    try:
        # Re-read under the lease: another run may have replaced an exposed value since the match.
        exposed_now = bool(exposed_hashes) and bool(hits(s, backend, exposed_hashes or set()))
        forced = "its value is exposed in history" if exposed_now else _drift(s, backend)
        last = _last_rotated(s, backend)
    except RotationError as exc:
        raise type(exc)(str(exc), step="due") from exc
    return Due(exposed_now=exposed_now, forced=forced, last=last)
