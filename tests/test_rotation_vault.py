"""Rotation against a real OpenBao (KV v2) and a real PostgreSQL cluster.

The Aurora story: JWT_SECRET and ADMIN_PASSWORD share ``secret/aurora/app``
(with an unrelated key that must survive), DATABASE_URL lives in
``secret/aurora/db`` and is the login of a real PostgreSQL role.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from rotation.backends.base import SecretRef
from rotation.backends.vault import VaultBackend
from rotation.config import RotationConfig, parse_config
from rotation.engine import rotate
from rotation.errors import ConflictError, RotationError, TargetError
from rotation.generate import GenerateSpec, dsn_password
from rotation.protocol import StepOutcome, rotate_secret
from rotation.targets.postgres import PostgresTarget
from sanitize.audit import AuditLog
from sanitize.scan.report import Finding, ScanReport
from sanitize.secret import Secret, sha256_hex

pytestmark = pytest.mark.services

ROLE = "aurora_app"


def fake(rng: random.Random, n: int = 24) -> str:
    """A seeded fake secret, built at run time."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


@dataclass
class Aurora:
    """Seeded store + database, and helpers to inspect both."""

    vault: Any
    pg: Any
    tmp: Path
    old: dict[str, str]
    env: dict[str, str]

    def kv(self, path: str, version: int | None = None) -> dict[str, str]:
        return self.vault.client.secrets.kv.v2.read_secret_version(
            path=path, version=version, mount_point="secret", raise_on_deleted_version=True)["data"]["data"]

    def meta(self, path: str) -> dict[str, Any]:
        return self.vault.client.secrets.kv.v2.read_secret_metadata(path=path, mount_point="secret")["data"]

    def config(self, *, db: bool = True, admin_env: str = "PG_ADMIN_DSN", **extra: Any) -> RotationConfig:
        doc = {
            "backend": {"type": "vault", "url": self.vault.url, "token_env": "VAULT_TOKEN", "mount": "secret"},
            "audit_log": str(self.tmp / "audit.log"),
            "lock_dir": str(self.tmp / "locks"),
            "secrets": [
                {"name": "JWT_SECRET", "path": "aurora/app", "key": "JWT_SECRET",
                 "generate": {"kind": "hex", "bytes": 64}, "max_age": "30d"},
                {"name": "ADMIN_PASSWORD", "path": "aurora/app", "key": "ADMIN_PASSWORD",
                 "generate": {"kind": "password", "length": 32}, "max_age": "90d"},
                {"name": "DATABASE_URL", "path": "aurora/db", "key": "DATABASE_URL",
                 "generate": {"kind": "password", "length": 32}, "max_age": "30d",
                 **({"target": {"type": "postgres", "admin_dsn_env": admin_env}} if db else {})},
            ],
            **extra,
        }
        (self.tmp / "rotation.yml").write_text(yaml.safe_dump(doc))
        return parse_config(doc, env=self.env)

    def backend(self) -> VaultBackend:
        return VaultBackend(self.vault.url, Secret(self.vault.token))

    def can_login(self, dsn: str) -> bool:
        try:
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False


@pytest.fixture
def aurora(vault, pg, tmp_path: Path) -> Aurora:
    rng = random.Random(2026)
    old = {"JWT_SECRET": fake(rng, 40), "ADMIN_PASSWORD": fake(rng), "OTHER": fake(rng, 12),
           "PG_PASSWORD": fake(rng)}
    old["DATABASE_URL"] = pg.create_role(ROLE, old["PG_PASSWORD"])
    kv = vault.client.secrets.kv.v2
    kv.create_or_update_secret(path="aurora/app", mount_point="secret",
                               secret={"JWT_SECRET": old["JWT_SECRET"], "ADMIN_PASSWORD": old["ADMIN_PASSWORD"],
                                       "OTHER": old["OTHER"]})
    kv.create_or_update_secret(path="aurora/db", mount_point="secret", secret={"DATABASE_URL": old["DATABASE_URL"]})
    env = {"VAULT_TOKEN": vault.token, "PG_ADMIN_DSN": pg.admin_dsn}
    return Aurora(vault=vault, pg=pg, tmp=tmp_path, old=old, env=env)


def _values(a: Aurora) -> list[str]:
    """Every secret value, old and current, that must never appear in output."""
    app, db = a.kv("aurora/app"), a.kv("aurora/db")
    current = [app["JWT_SECRET"], app["ADMIN_PASSWORD"], db["DATABASE_URL"], dsn_password(db["DATABASE_URL"]) or ""]
    return [v for v in [*a.old.values(), *current, a.pg.admin_password] if v]


def _assert_no_values(a: Aurora, *texts: str) -> None:
    blob = "\n".join(texts)
    for value in _values(a):
        assert value not in blob


def test_compromised_rotation_of_all_three_secrets(aurora: Aurora) -> None:
    lines: list[str] = []
    with aurora.pg.connect(aurora.old["DATABASE_URL"]) as leaked_session:
        summary = rotate(aurora.config(), mode="compromised", log=lines.append)
        # The session opened with the leaked password was terminated.
        with pytest.raises(psycopg.OperationalError):
            leaked_session.execute("SELECT 1")

    assert summary.rotated == ["JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL"] and summary.failed == []
    app, db = aurora.kv("aurora/app"), aurora.kv("aurora/db")
    assert app["JWT_SECRET"] != aurora.old["JWT_SECRET"] and len(app["JWT_SECRET"]) == 128
    assert app["ADMIN_PASSWORD"] != aurora.old["ADMIN_PASSWORD"] and len(app["ADMIN_PASSWORD"]) == 32
    assert app["OTHER"] == aurora.old["OTHER"]  # other keys of the same KV secret are preserved
    new_dsn = db["DATABASE_URL"]
    assert new_dsn.split("@")[1] == aurora.old["DATABASE_URL"].split("@")[1]
    assert new_dsn.split(":")[1] == aurora.old["DATABASE_URL"].split(":")[1]  # same user
    # New DSN logs in, the leaked one is refused.
    assert aurora.can_login(new_dsn)
    assert not aurora.can_login(aurora.old["DATABASE_URL"])
    records = [json.loads(line) for line in lines]
    assert {"ts", "secret", "step", "status", "version"} <= set(records[0])
    proof = [r for r in records if r["step"] == "prove"]
    assert proof == [{**proof[0], "secret": "DATABASE_URL", "status": "leaked credential rejected",
                      "sessions_terminated": 1}]
    out = summary.outcomes[2]
    assert out.leaked_rejected is True and out.sessions_terminated == 1
    # Compromised: no earlier version of either KV secret remains readable as a fallback.
    for path in ("aurora/app", "aurora/db"):
        meta = aurora.meta(path)
        current = meta["current_version"]
        assert all(info["destroyed"] for v, info in meta["versions"].items() if int(v) < current)
    # No pending value survives.
    pending = aurora.vault.client.secrets.kv.v2.list_secrets
    with pytest.raises(Exception, match="None"):
        pending(path="_rotation-pending", mount_point="secret")
    audit = (aurora.tmp / "audit.log").read_text()
    assert [r["secret"] for r in AuditLog(aurora.tmp / "audit.log").records() if r["event"] == "rotation.secret"] \
        == ["JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL"]
    _assert_no_values(aurora, "\n".join(lines), audit, str(summary), json.dumps(summary.to_dict()))


def test_scheduled_mode_keeps_the_previous_version(aurora: Aurora) -> None:
    rotate(aurora.config(), mode="scheduled", only="JWT_SECRET")
    meta = aurora.meta("aurora/app")
    assert meta["current_version"] == 2
    assert aurora.kv("aurora/app", version=1)["JWT_SECRET"] == aurora.old["JWT_SECRET"]
    assert not meta["versions"]["1"]["destroyed"]
    assert not meta["custom_metadata"]  # no clock of ours: ages come from the versions themselves


def test_rollback_when_the_database_is_down(aurora: Aurora) -> None:
    cfg = aurora.config()
    aurora.pg.stop()
    with pytest.raises(RotationError) as info:
        rotate(cfg, only="DATABASE_URL")
    assert "set:" in str(info.value) and "rolled back: store unchanged" in str(info.value)
    assert aurora.kv("aurora/db")["DATABASE_URL"] == aurora.old["DATABASE_URL"]
    assert aurora.meta("aurora/db")["current_version"] == 1
    aurora.pg.start()
    assert aurora.can_login(aurora.old["DATABASE_URL"])  # the database still has the old credential
    _assert_no_values(aurora, str(info.value))


def test_rollback_with_a_wrong_admin_dsn(aurora: Aurora) -> None:
    aurora.env["PG_ADMIN_DSN_BAD"] = aurora.pg.dsn("postgres", "not-the-password")
    with pytest.raises(RotationError) as info:
        rotate(aurora.config(admin_env="PG_ADMIN_DSN_BAD"), only="DATABASE_URL")
    message = str(info.value)
    assert "set: postgres: cannot connect as admin: password authentication failed" in message
    assert aurora.kv("aurora/db")["DATABASE_URL"] == aurora.old["DATABASE_URL"]
    assert aurora.can_login(aurora.old["DATABASE_URL"])
    assert "not-the-password" not in message
    _assert_no_values(aurora, message)


class FailingTest(PostgresTarget):
    """Applies for real, then fails the test step: the protocol must revert the role."""

    def test(self, value: Secret) -> None:
        raise TargetError("postgres: injected test failure")


def test_failed_test_step_reverts_the_database_password(aurora: Aurora) -> None:
    backend = aurora.backend()
    ref = SecretRef(name="DATABASE_URL", path="aurora/db", key="DATABASE_URL")
    steps: list[StepOutcome] = []
    with pytest.raises(TargetError) as info:
        rotate_secret(backend, ref, GenerateSpec(), FailingTest(Secret(aurora.pg.admin_dsn)), log=steps.append)
    assert info.value.step == "test" and "target reverted" in str(info.value)
    assert aurora.can_login(aurora.old["DATABASE_URL"])
    assert aurora.kv("aurora/db")["DATABASE_URL"] == aurora.old["DATABASE_URL"]
    assert [s.step for s in steps] == ["read", "create", "set", "test"] and steps[-1].status == "failed"
    assert backend.read_pending(ref, "no-such-token") is None


class RacingBackend(VaultBackend):
    """A concurrent writer changes the secret between stage and promote."""

    def promote(self, ref: SecretRef, token: str, expected_version: str, *, keep_previous: bool) -> str:
        self.client.secrets.kv.v2.patch(path=ref.path, secret={"WRITTEN_BY": "someone else"}, mount_point="secret")
        return super().promote(ref, token, expected_version, keep_previous=keep_previous)


def test_cas_conflict_is_detected_and_nothing_is_overwritten(aurora: Aurora) -> None:
    backend = RacingBackend(aurora.vault.url, Secret(aurora.vault.token))
    cfg = aurora.config()
    with pytest.raises(RotationError) as info:
        rotate(cfg, only=["DATABASE_URL"], backend=backend)
    assert "finish:" in str(info.value) and "nothing overwritten" in str(info.value)
    db = aurora.kv("aurora/db")
    assert db == {"DATABASE_URL": aurora.old["DATABASE_URL"], "WRITTEN_BY": "someone else"}
    assert aurora.can_login(aurora.old["DATABASE_URL"])  # target reverted


def test_stale_cas_in_promote_raises_conflict_error(aurora: Aurora) -> None:
    backend = aurora.backend()
    ref = SecretRef(name="JWT_SECRET", path="aurora/app", key="JWT_SECRET")
    backend.stage_pending(ref, Secret("n" * 20), "tok-1")
    backend.stage_pending(ref, Secret("n" * 20), "tok-1")  # idempotent
    with pytest.raises(ConflictError):
        backend.stage_pending(ref, Secret("m" * 20), "tok-1")
    aurora.vault.client.secrets.kv.v2.patch(path="aurora/app", secret={"X": "y"}, mount_point="secret")
    with pytest.raises(ConflictError):
        backend.promote(ref, "tok-1", "1", keep_previous=True)
    assert aurora.kv("aurora/app")["JWT_SECRET"] == aurora.old["JWT_SECRET"]


def test_pending_value_is_not_what_consumers_read(aurora: Aurora) -> None:
    backend = aurora.backend()
    ref = SecretRef(name="JWT_SECRET", path="aurora/app", key="JWT_SECRET")
    backend.stage_pending(ref, Secret("p" * 30), "tok-2")
    assert backend.read_current(ref).value == Secret(aurora.old["JWT_SECRET"])
    assert backend.read_pending(ref, "tok-2") == Secret("p" * 30)
    backend.discard_pending(ref, "tok-2")
    assert backend.read_pending(ref, "tok-2") is None
    backend.discard_pending(ref, "tok-2")  # idempotent


def test_due_rotates_only_the_stale_secret(aurora: Aurora) -> None:
    later = datetime.now(UTC) + timedelta(days=45)  # JWT_SECRET (30d) is stale, ADMIN_PASSWORD (90d) is not
    lines: list[str] = []
    cfg = aurora.config(db=False)
    summary = rotate(cfg, mode="scheduled", due=True, log=lines.append, now=later,
                     only=["JWT_SECRET", "ADMIN_PASSWORD"])
    assert summary.rotated == ["JWT_SECRET"]
    assert summary.named("not due") == ["ADMIN_PASSWORD"]
    app = aurora.kv("aurora/app")
    assert app["JWT_SECRET"] != aurora.old["JWT_SECRET"] and app["ADMIN_PASSWORD"] == aurora.old["ADMIN_PASSWORD"]
    # Run again: nothing is due any more.
    again = rotate(cfg, mode="scheduled", due=True, only=["JWT_SECRET", "ADMIN_PASSWORD"])
    assert again.rotated == [] and again.failed == []
    _assert_no_values(aurora, "\n".join(lines))


def test_due_with_a_fake_clock(aurora: Aurora) -> None:
    later = datetime.now(UTC) + timedelta(days=31)
    # With its postgres target: a DSN without one is never rotated in the store alone (see rotation.kinds).
    summary = rotate(aurora.config(), mode="scheduled", due=True, now=later)
    assert summary.rotated == ["JWT_SECRET", "DATABASE_URL"]  # 30d; ADMIN_PASSWORD has 90d


@pytest.mark.parametrize("mode", ["scheduled", "compromised"])
def test_a_sibling_keys_rotation_does_not_make_a_key_look_fresh(aurora: Aurora, mode: str) -> None:
    """JWT_SECRET and ADMIN_PASSWORD share aurora/app: rotating one writes a new version holding both."""
    created = datetime.fromisoformat(aurora.meta("aurora/app")["versions"]["1"]["created_time"][:26] + "+00:00")
    cfg = aurora.config(db=False)
    rotate(cfg, mode=mode, only="JWT_SECRET")
    assert aurora.meta("aurora/app")["current_version"] == 2
    backend = aurora.backend()
    admin = backend.last_rotated(SecretRef(name="ADMIN_PASSWORD", path="aurora/app", key="ADMIN_PASSWORD"))
    jwt = backend.last_rotated(SecretRef(name="JWT_SECRET", path="aurora/app", key="JWT_SECRET"))
    assert admin is not None and jwt is not None
    assert abs((admin - created).total_seconds()) < 1 and jwt > admin  # version 1's time, not version 2's
    # 91 days after ADMIN_PASSWORD was written (max_age 90d) it is due, though its secret changed since.
    summary = rotate(cfg, mode="scheduled", due=True, now=created + timedelta(days=91),
                     only=["ADMIN_PASSWORD"])
    assert summary.rotated == ["ADMIN_PASSWORD"]


def test_a_leaked_value_written_back_is_due_whatever_its_age(aurora: Aurora) -> None:
    cfg = aurora.config(db=False)
    rotate(cfg, mode="compromised", only="JWT_SECRET")
    # Someone restores the leaked value (a backup, a careless `kv put`): a fresh version, so young by age.
    aurora.vault.client.secrets.kv.v2.patch(path="aurora/app", mount_point="secret",
                                            secret={"JWT_SECRET": aurora.old["JWT_SECRET"]})
    report = ScanReport(source="/repo", refs={}, findings=[Finding(
        rule="default.jwt-secret", kind="content", path="server/auth.ts", blob="b" * 40, commit="c" * 40, line=3,
        secret_sha256=sha256_hex(aurora.old["JWT_SECRET"]), preview="…", refs=["refs/heads/main"])])
    # By age alone it is "not due": the version holding it was written a moment ago.
    assert rotate(cfg, mode="scheduled", due=True, only=["JWT_SECRET"]).named("not due") == ["JWT_SECRET"]
    lines: list[str] = []
    summary = rotate(cfg, mode="scheduled", due=True, findings=report, only=["JWT_SECRET"], log=lines.append)
    assert summary.rotated == ["JWT_SECRET"]
    due = [json.loads(x) for x in lines if json.loads(x)["step"] == "due"]
    assert due[0]["reason"] == "its value is exposed in history"
    assert aurora.kv("aurora/app")["JWT_SECRET"] != aurora.old["JWT_SECRET"]


def test_findings_match_reports_exposed_secrets_and_rotates_them_first(aurora: Aurora) -> None:
    def finding(value: str) -> Finding:
        return Finding(rule="default.jwt-secret", kind="content", path="server/auth.ts", blob="b" * 40,
                       commit="c" * 40, line=3, secret_sha256=sha256_hex(value), preview="…", refs=["refs/heads/main"])

    report = ScanReport(source="/repo", refs={}, findings=[finding(aurora.old["PG_PASSWORD"]),
                                                           finding(aurora.old["ADMIN_PASSWORD"])])
    path = aurora.tmp / "findings.json"
    path.write_text(report.to_json())
    lines: list[str] = []
    summary = rotate(aurora.config(), findings=str(path), log=lines.append)
    assert summary.exposed == ["ADMIN_PASSWORD", "DATABASE_URL"]
    assert [o.name for o in summary.outcomes] == ["ADMIN_PASSWORD", "DATABASE_URL", "JWT_SECRET"]
    assert [o.exposed for o in summary.outcomes] == [True, True, False]
    matched = [json.loads(x) for x in lines if json.loads(x)["step"] == "match"]
    assert [m["status"] for m in matched] == ["exposed in history: ADMIN_PASSWORD", "exposed in history: DATABASE_URL"]
    _assert_no_values(aurora, "\n".join(lines), (aurora.tmp / "audit.log").read_text())


def test_dry_run_changes_nothing(aurora: Aurora) -> None:
    lines: list[str] = []
    summary = rotate(aurora.config(), dry_run=True, log=lines.append)
    assert summary.named("would rotate") == ["JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL"]
    assert aurora.meta("aurora/app")["current_version"] == 1 and aurora.meta("aurora/db")["current_version"] == 1
    assert aurora.can_login(aurora.old["DATABASE_URL"])


def test_a_secret_held_by_another_run_is_skipped(aurora: Aurora) -> None:
    from rotation.schedule import SecretLock

    cfg = aurora.config(db=False)
    with SecretLock(aurora.tmp / "locks", cfg.backend.identity, "JWT_SECRET"):
        summary = rotate(cfg, only=["JWT_SECRET", "ADMIN_PASSWORD"])
    assert summary.named("skipped") == ["JWT_SECRET"] and summary.rotated == ["ADMIN_PASSWORD"]
    assert summary.outcomes[0].reason == "locked by another run"
    assert aurora.kv("aurora/app")["JWT_SECRET"] == aurora.old["JWT_SECRET"]


class CasRace(VaultBackend):
    """A writer slips in after our version check, right before the check-and-set write."""

    def _call(self, what, fn, **kw):
        if what.startswith("promote"):
            self.client.secrets.kv.v2.patch(path=kw["path"], secret={"LATE": "writer"}, mount_point="secret")
        return super()._call(what, fn, **kw)


def test_vault_check_and_set_refusal_is_a_conflict(aurora: Aurora) -> None:
    backend = CasRace(aurora.vault.url, Secret(aurora.vault.token))
    ref = SecretRef(name="JWT_SECRET", path="aurora/app", key="JWT_SECRET")
    with pytest.raises(ConflictError) as info:
        rotate_secret(backend, ref, GenerateSpec(kind="hex"), mode="compromised")
    assert info.value.step == "finish" and "check-and-set" in str(info.value)
    app = aurora.kv("aurora/app")
    assert app["JWT_SECRET"] == aurora.old["JWT_SECRET"] and app["LATE"] == "writer"
    assert not any(info["destroyed"] for info in aurora.meta("aurora/app")["versions"].values())


def test_keyword_form_dsn_is_rotated_in_the_database(aurora: Aurora) -> None:
    pw = "kw-" + aurora.old["PG_PASSWORD"]
    aurora.pg.create_role("kw_user", pw)
    old = f"host=127.0.0.1 port={aurora.pg.port} dbname=postgres user=kw_user password={pw} connect_timeout=5"
    aurora.vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", secret={"DATABASE_URL": old},
                                                              mount_point="secret")
    summary = rotate(aurora.config(), only="DATABASE_URL")
    new = aurora.kv("aurora/db")["DATABASE_URL"]
    assert summary.outcomes[0].leaked_rejected is True
    assert aurora.can_login(new) and not aurora.can_login(old)
    assert "connect_timeout=5" in new and "user=kw_user" in new
