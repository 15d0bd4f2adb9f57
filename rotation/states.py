"""Where each exposed credential ends: one of four states, never a bare "rotated".

- ``rotated-proven-dead``: rotated in the store and at its target, and the
  target refused the leaked value afterwards (``proof`` says how);
- ``revoked``: revoked at the provider (an IAM key deleted, or a provider
  token the operator revoked and acknowledged with ``rotate --ack``);
- ``rotated-unproven``: rotated, but nothing here can show the leaked value is
  refused (``why``: store-only secret without a ``proofs:`` check, scheduled
  grace window, hook without ``prove_leak``, a check that refused the new
  value too or gave no answer, done by hand);
- ``still-live``: the leaked value still works; ``action`` is the exact step.

Acknowledgements (``rotate --ack NAME``) and earlier runs' results are read
back from the audit log, so a credential rotated yesterday is not reported
live today just because its finding no longer matches the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rotation.kinds import CredentialKind, kind_of_rule
from sanitize.audit import AuditLog

PROVEN_DEAD = "rotated-proven-dead"
REVOKED = "revoked"
UNPROVEN = "rotated-unproven"
STILL_LIVE = "still-live"
STATES = (PROVEN_DEAD, REVOKED, UNPROVEN, STILL_LIVE)
DONE = (PROVEN_DEAD, REVOKED, UNPROVEN)
ACK_EVENT = "rotation.ack"
#: How an exposed finding no configured secret holds is named (for ``--ack``): its rule and hash prefix.
ACK_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*:[0-9a-f]{8}")


@dataclass(frozen=True)
class Ack:
    """An operator's "done" for a credential this tool cannot rotate or prove (from the audit log)."""

    name: str
    actor: str
    ts: str
    note: str = ""

    def proof(self) -> str:
        """How the state is known: the operator's word, not a check by this tool."""
        note = f" ({self.note})" if self.note else ""
        return f"acknowledged by {self.actor} at {self.ts}{note}; not verified by git-sanitize"


def read_acks(audit: AuditLog) -> dict[str, Ack]:
    """Every acknowledgement in the audit log, the latest per name."""
    acks: dict[str, Ack] = {}
    for record in audit.records():
        if record.get("event") == ACK_EVENT and isinstance(record.get("name"), str):
            acks[record["name"]] = Ack(name=record["name"], actor=str(record.get("actor", "unknown")),
                                       ts=str(record.get("ts", "")), note=str(record.get("note", "")))
    return acks


def record_ack(audit: AuditLog, name: str, note: str = "") -> Ack:
    """Append an acknowledgement for ``name``; returns it."""
    record = audit.append(ACK_EVENT, name=name, note=note)
    return Ack(name=name, actor=str(record["actor"]), ts=str(record["ts"]), note=note)


@dataclass(frozen=True)
class RetiredExposure:
    """An exposed value an earlier run rotated away (from the audit log): as which secret, to which state, when."""

    secret: str
    state: str
    proof: str
    why: str
    ts: str


def retired_exposures(audit: AuditLog) -> dict[str, RetiredExposure]:
    """Exposure hashes that earlier runs rotated away, with the state they reached and when."""
    retired: dict[str, RetiredExposure] = {}
    for record in audit.records():
        if record.get("event") != "rotation.secret" or record.get("state") not in DONE:
            continue
        for digest in record.get("exposure_sha256") or []:
            retired[str(digest)] = RetiredExposure(secret=str(record.get("secret")), state=str(record["state"]),
                                                   proof=str(record.get("proof") or ""),
                                                   why=str(record.get("why") or ""), ts=str(record.get("ts", "")))
    return retired


def acked_exposures(audit: AuditLog, acks: Mapping[str, Ack]) -> dict[str, Ack]:
    """Finding hashes an acknowledged secret held when a run matched it (it was replaced by hand since)."""
    out: dict[str, Ack] = {}
    for record in audit.records():
        ack = acks.get(str(record.get("secret")))
        if record.get("event") == "rotation.secret" and ack is not None:
            for digest in record.get("exposure_sha256") or []:
                out[str(digest)] = ack
    return out


def acked_state(kind: CredentialKind) -> str:
    """What an acknowledgement means for this kind: revoked at a provider, or rotated by hand."""
    return REVOKED if not kind.targets and not kind.store_only else UNPROVEN


@dataclass
class FindingCredential:
    """An exposed credential the scan found that no configured secret holds now."""

    name: str  # rule:hash-prefix, stable across runs (for --ack)
    rule: str
    kind: CredentialKind
    paths: list[str]
    sha256: str


def unconfigured(findings: Iterable[Any], matched: set[str]) -> list[FindingCredential]:
    """Group the findings whose value no configured secret holds, one credential per value."""
    by_hash: dict[str, FindingCredential] = {}
    private_key_blobs: set[str] = set()
    items = list(findings)
    for f in items:
        if f.rule.startswith("private-key."):
            private_key_blobs.add(f.blob)
    for f in items:
        kind = kind_of_rule(f.rule)
        if kind is None or f.secret_sha256 in matched:
            continue
        if f.rule == "path.private-key" and f.blob in private_key_blobs:
            continue  # the key block inside the file is the same credential
        cred = by_hash.get(f.secret_sha256)
        if cred is None:
            cred = by_hash[f.secret_sha256] = FindingCredential(
                name=f"{f.rule}:{f.secret_sha256[:8]}", rule=f.rule, kind=kind, paths=[], sha256=f.secret_sha256)
        # A value in a ref, path or identity name is where its (redacted) name says.
        where = f.path or (f.place if f.name else f"commit message {str(f.commit)[:12]}")
        if where not in cred.paths:
            cred.paths.append(where)
    return list(by_hash.values())


def state_counts(states: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Names per state, in STATES order (empty states left out)."""
    out: dict[str, list[str]] = {}
    for state in STATES:
        names = [n for n, s in states.items() if s == state]
        if names:
            out[state] = names
    return out
