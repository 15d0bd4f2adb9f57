"""Two rotation runs on different hosts (separate lock directories) against one store and one database.

The local ``flock`` cannot see a run on another machine, so the lease lives in
the store itself (OpenBao KV v2 check-and-set; AWSPENDING in Secrets Manager). Whatever the interleaving,
afterwards the stored DSN must log in to PostgreSQL and the value the runs
started from (the leaked one) must be refused; a run that loses must never
put back a superseded value.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from rotation.backends.aws import AwsBackend
from rotation.backends.base import Lease, SecretRef
from rotation.backends.vault import LEASE_PREFIX, VaultBackend
from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import LeaseHeld, RotationError
from rotation.generate import dsn_password, with_password
from sanitize.scan.report import Finding, ScanReport
from sanitize.secret import Secret, sha256_hex

pytestmark = pytest.mark.services

ROLE = "aurora_app"
REF = SecretRef(name="DATABASE_URL", path="aurora/db", key="DATABASE_URL")
TRIALS = 20


def fake(rng: random.Random, n: int = 24) -> str:
    """A seeded fake secret, built at run time."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def can_login(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def stored(vault: Any) -> str:
    data = vault.client.secrets.kv.v2.read_secret_version(path="aurora/db", mount_point="secret",
                                                          raise_on_deleted_version=True)["data"]["data"]
    return str(data["DATABASE_URL"])


def host_config(host: Path, vault_url: str) -> Path:
    """One machine's rotation.yml: its own lock directory and audit log, the shared store."""
    host.mkdir()
    doc = {"backend": {"type": "vault", "url": vault_url, "token_env": "VAULT_TOKEN", "mount": "secret"},
           "audit_log": "audit.log", "lock_dir": "locks",
           "secrets": [{"name": "DATABASE_URL", "path": "aurora/db", "key": "DATABASE_URL",
                        "generate": {"kind": "password", "length": 32},
                        "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}}]}
    path = host / "rotation.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def findings_for(path: Path, value: str) -> Path:
    report = ScanReport(source="/repo", refs={}, findings=[Finding(
        rule="dsn.postgres", kind="content", path="chat.json", blob="b" * 40, commit="c" * 40, line=1,
        secret_sha256=sha256_hex(dsn_password(value) or ""), preview="…", refs=["refs/heads/main"])])
    path.write_text(report.to_json())
    return path


@pytest.fixture
def db(vault: Any, pg: Any) -> str:
    """DATABASE_URL in secret/aurora/db, the login of a real PostgreSQL role; returns the DSN."""
    dsn = str(pg.create_role(ROLE, fake(random.Random(11))))
    vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", mount_point="secret",
                                                       secret={"DATABASE_URL": dsn})
    return dsn


def test_two_hosts_rotating_at_once_never_disagree_with_the_database(vault: Any, pg: Any, db: str,
                                                                      tmp_path: Path) -> None:
    hosts = [host_config(tmp_path / name, vault.url) for name in ("host-a", "host-b")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "PG_"))}
    env.update(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.admin_dsn)
    interleavings: list[tuple[str, ...]] = []
    seen: list[str] = [db]
    for trial in range(TRIALS):
        leaked = stored(vault)
        compromised = trial % 2 == 0
        args = ["--mode", "compromised"] if compromised else ["--mode", "scheduled"]
        if compromised:
            args += ["--findings", str(findings_for(tmp_path / f"findings-{trial}.json", leaked))]
        procs = [subprocess.Popen([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(cfg),
                                   "--only", "DATABASE_URL", *args], env=env, cwd=cfg.parent,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cfg in hosts]
        streams = [p.communicate(timeout=240) for p in procs]
        results = [(p.returncode, out, err) for p, (out, err) in zip(procs, streams, strict=True)]
        now = stored(vault)
        seen.append(now)
        assert can_login(now), f"trial {trial}: the stored DSN is refused by PostgreSQL: {results}"
        assert not can_login(leaked), f"trial {trial}: the value both runs started from still logs in"
        for earlier in seen[:-1]:
            assert earlier == now or not can_login(earlier), f"trial {trial}: a superseded DSN logs in again"
        outcomes = []
        for code, out, err in results:
            assert code in (0, 1), f"trial {trial}: {err}"
            summary = json.loads(out.splitlines()[-1])
            assert summary["step"] == "summary" and summary["failed"] == [], f"trial {trial}: {summary}"
            outcomes.append(summary["outcomes"][0]["status"])
            for value in {leaked, now, dsn_password(leaked), dsn_password(now)}:
                assert value and value not in out + err
        assert "rotated" in outcomes, f"trial {trial}: neither run rotated: {outcomes}"
        interleavings.append(tuple(sorted(outcomes)))
    # Either the second run found the first one's lease (skipped) or ran after it (rotated again).
    assert set(interleavings) <= {("rotated", "skipped"), ("rotated", "rotated")}, interleavings
    lease = vault.client.secrets.kv.v2.read_secret_version(path=f"{LEASE_PREFIX}/aurora/db/DATABASE_URL",
                                                           mount_point="secret", raise_on_deleted_version=True)
    assert lease["data"]["data"]["owner"] == ""  # every run gave its lease back


def test_a_lease_held_on_another_host_skips_the_secret_and_changes_nothing(vault: Any, pg: Any, db: str,
                                                                           tmp_path: Path) -> None:
    backend = VaultBackend(vault.url, Secret(vault.token))
    backend.acquire_lease(REF, "other-host:4242:abcd", timedelta(minutes=15))
    cfg = parse_config(yaml.safe_load(host_config(tmp_path / "host-b", vault.url).read_text()),
                       base=tmp_path / "host-b", env={"VAULT_TOKEN": vault.token, "PG_ADMIN_DSN": pg.admin_dsn})
    summary = rotate(cfg, mode="compromised")
    outcome = summary.outcomes[0]
    assert outcome.status == "skipped" and "other-host:4242:abcd holds the lease" in outcome.reason
    assert outcome.state == "still-live" and summary.exit_code == 1
    assert stored(vault) == db and can_login(db)
    with pytest.raises(LeaseHeld):
        backend.acquire_lease(REF, "third-host:1:ffff", timedelta(minutes=15))


def test_an_expired_lease_is_taken_over(vault: Any, pg: Any, db: str, tmp_path: Path) -> None:
    backend = VaultBackend(vault.url, Secret(vault.token))
    backend.acquire_lease(REF, "crashed-host:1:dead", timedelta(seconds=1))
    expired = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    version = backend._lease_state(REF)[0]
    vault.client.secrets.kv.v2.create_or_update_secret(  # the crashed run's lease, run out
        path=f"{LEASE_PREFIX}/aurora/db/DATABASE_URL", mount_point="secret",
        secret={"owner": "crashed-host:1:dead", "expires": expired}, cas=version)
    cfg = parse_config(yaml.safe_load(host_config(tmp_path / "host-b", vault.url).read_text()),
                       base=tmp_path / "host-b", env={"VAULT_TOKEN": vault.token, "PG_ADMIN_DSN": pg.admin_dsn})
    summary = rotate(cfg, mode="compromised")
    assert summary.rotated == ["DATABASE_URL"]
    assert can_login(stored(vault)) and not can_login(db)


class TakenOver(VaultBackend):
    """Before promotion another run (whose lease replaced ours) promotes its own value and sets the database."""

    def __init__(self, *args: Any, winner: str, admin_dsn: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.winner, self.admin_dsn, self.renewals = winner, admin_dsn, 0

    def renew_lease(self, ref: SecretRef, lease: Lease, ttl: timedelta) -> None:
        self.renewals += 1
        if self.renewals == 3:  # 1: before create, 2: before set, 3: before finish
            other = VaultBackend(self.url, Secret("root"))
            version = other._lease_state(ref)[0]
            other._write_lease(ref, "winner-host:7:beef", datetime.now(UTC) + ttl, cas=version)
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute(f"ALTER ROLE {ROLE} PASSWORD '{dsn_password(self.winner)}'")
            self.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", mount_point="secret",
                                                              secret={"DATABASE_URL": self.winner})
        super().renew_lease(ref, lease, ttl)


def test_a_run_that_lost_its_lease_restores_the_winners_value_not_the_leaked_one(vault: Any, pg: Any, db: str,
                                                                                 tmp_path: Path) -> None:
    winner = with_password(db, fake(random.Random(12)))
    backend = TakenOver(vault.url, Secret(vault.token), winner=winner, admin_dsn=pg.admin_dsn)
    cfg = parse_config(yaml.safe_load(host_config(tmp_path / "host-b", vault.url).read_text()),
                       base=tmp_path / "host-b", env={"VAULT_TOKEN": vault.token, "PG_ADMIN_DSN": pg.admin_dsn})
    with pytest.raises(RotationError) as info:
        rotate(cfg, mode="compromised", backend=backend)
    assert "took it" in str(info.value) and "another run promoted meanwhile" in str(info.value)
    assert stored(vault) == winner and can_login(winner)
    assert not can_login(db)  # the leaked value was not put back


# -- AWS Secrets Manager: the lease is AWSPENDING, claimed by a label move that names where it was ----------------


def aws_host_config(host: Path, moto: Any) -> Path:
    host.mkdir()
    doc = {"backend": {"type": "aws", "region": moto.region, "endpoint_url": moto.endpoint_url},
           "audit_log": "audit.log", "lock_dir": "locks",
           "secrets": [{"name": "DATABASE_URL", "secret_id": "aurora/db",
                        "generate": {"kind": "password", "length": 32},
                        "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}}]}
    path = host / "rotation.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def aws_stored(moto: Any) -> str:
    return str(moto.client().get_secret_value(SecretId="aurora/db", VersionStage="AWSCURRENT")["SecretString"])


def test_two_hosts_on_secrets_manager_never_disagree_with_the_database(moto: Any, pg: Any, tmp_path: Path) -> None:
    start = str(pg.create_role(ROLE, fake(random.Random(13))))
    moto.client().create_secret(Name="aurora/db", SecretString=start)
    hosts = [aws_host_config(tmp_path / name, moto) for name in ("host-a", "host-b")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG_")}
    env["PG_ADMIN_DSN"] = pg.admin_dsn
    for trial in range(6):
        leaked = aws_stored(moto)
        procs = [subprocess.Popen([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(cfg),
                                   "--mode", "compromised"], env=env, cwd=cfg.parent,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cfg in hosts]
        streams = [p.communicate(timeout=240) for p in procs]
        now = aws_stored(moto)
        assert can_login(now), f"trial {trial}: the stored DSN is refused by PostgreSQL: {streams}"
        statuses = []
        for p, (out, err) in zip(procs, streams, strict=True):
            assert p.returncode in (0, 1), err
            summary = json.loads(out.splitlines()[-1])
            assert summary["failed"] == [], f"trial {trial}: {summary}"
            statuses.append(summary["outcomes"][0]["status"])
        if "rotated" in statuses:
            assert not can_login(leaked), f"trial {trial}: the value both runs started from still logs in"
        else:
            # Both attached AWSPENDING at the same moment and both backed off: moto lets a label sit on two
            # versions (AWS refuses the second move). Nothing changed, so store and database still agree.
            assert statuses == ["skipped", "skipped"] and now == leaked, statuses
        stages = moto.client().describe_secret(SecretId="aurora/db")["VersionIdsToStages"]
        assert not any("AWSPENDING" in labels for labels in stages.values())  # no lease left behind


def test_a_rotation_under_way_on_secrets_manager_is_not_interleaved(moto: Any, pg: Any, tmp_path: Path) -> None:
    start = str(pg.create_role(ROLE, fake(random.Random(14))))
    client = moto.client()
    client.create_secret(Name="aurora/db", SecretString=start)
    # A Lambda (or another host) has staged its own pending version: AWSPENDING is taken.
    theirs = str(uuid.uuid4())
    client.put_secret_value(SecretId="aurora/db", ClientRequestToken=theirs,
                            SecretString=with_password(start, fake(random.Random(15))), VersionStages=["AWSPENDING"])
    cfg = parse_config(yaml.safe_load(aws_host_config(tmp_path / "host-b", moto).read_text()),
                       base=tmp_path / "host-b", env={"PG_ADMIN_DSN": pg.admin_dsn})
    summary = rotate(cfg, mode="compromised")
    outcome = summary.outcomes[0]
    assert outcome.status == "skipped" and "another rotation holds AWSPENDING" in outcome.reason
    assert aws_stored(moto) == start and can_login(start)
    # A crashed rotation's AWSPENDING (older than the lease time) is taken over by the label move.
    backend = AwsBackend(moto.region, endpoint_url=moto.endpoint_url)
    ref = SecretRef(name="DATABASE_URL", secret_id="aurora/db")
    backend.acquire_lease(ref, "host-b:1:beef", timedelta(0))
    mine = str(uuid.uuid4())
    backend.stage_pending(ref, Secret(with_password(start, fake(random.Random(16)))), mine)
    stages = client.describe_secret(SecretId="aurora/db")["VersionIdsToStages"]
    assert "AWSPENDING" in stages[mine] and "AWSPENDING" not in stages[theirs]
    assert not any(label.startswith("git-sanitize-run.") for label in stages[theirs])
    assert any(label.startswith("git-sanitize-run.") for label in stages[mine])  # names this run while pending
    with pytest.raises(LeaseHeld):  # and now a third run finds it taken
        AwsBackend(moto.region, endpoint_url=moto.endpoint_url).acquire_lease(ref, "host-c:1:f00d",
                                                                              timedelta(minutes=15))
