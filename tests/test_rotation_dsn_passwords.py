"""Stored DSNs whose password nobody percent-encoded: rotated, proven, and never echoed by a driver.

A team's DSN with ``50%off`` in its password is what libpq refuses with an
error that quotes the password. The rotation must read it the way the team's
own (lenient) drivers did, prove that login dead, rotate the next secret too,
and print nothing but one value-free line when it cannot.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from rotation.generate import driver_dsn, dsn_password, with_password

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int = 20) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def run_rotate(config: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(config),
                           "--mode", "compromised"], env=env, cwd=cwd, capture_output=True, text=True, timeout=240,
                          check=False)


def can_login(host: str, port: int, user: str, password: str) -> bool:
    try:
        with psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                             connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


@pytest.mark.parametrize("password", ["{r}50%off", "{r}%", "%zz{r}", "{r}%2"])
def test_driver_dsn_reads_an_unencoded_percent_as_itself(password: str) -> None:
    pw = password.format(r=fake(random.Random(password)))
    dsn = f"postgresql://app:{pw}@127.0.0.1:5432/db?sslmode=disable"
    assert dsn_password(dsn) == pw
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(driver_dsn(dsn))  # libpq itself refuses the raw form
    assert params["password"] == pw and params["user"] == "app" and params["sslmode"] == "disable"
    # A correctly encoded DSN means the same login after the round trip.
    encoded = with_password(dsn, pw)
    assert conninfo_to_dict(driver_dsn(encoded))["password"] == pw


def test_unencoded_percent_password_is_rotated_proven_dead_and_never_printed(vault, pg, tmp_path: Path) -> None:
    rng = random.Random(1515)
    leaked_pw = fake(rng) + "50%off"
    pg.create_role("shop_app", leaked_pw)
    leaked = f"postgresql://shop_app:{leaked_pw}@{pg.host}:{pg.port}/postgres"  # as the team stored it
    other = fake(rng, 32)
    kv = vault.client.secrets.kv.v2
    kv.create_or_update_secret(path="shop/db", secret={"DATABASE_URL": leaked})
    kv.create_or_update_secret(path="shop/app", secret={"API_KEY": other})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": "audit.log", "lock_dir": "locks",
           "secrets": [{"name": "DATABASE_URL", "path": "shop/db", "key": "DATABASE_URL",
                        "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}},
                       {"name": "API_KEY", "path": "shop/app", "key": "API_KEY", "generate": {"kind": "hex"}}]}
    config = tmp_path / "rotation.yml"
    config.write_text(yaml.safe_dump(doc))
    env = {"PATH": "/usr/bin:/bin", "VAULT_TOKEN": vault.token, "PG_ADMIN_DSN": pg.admin_dsn,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = run_rotate(config, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["rotated"] == ["DATABASE_URL", "API_KEY"]  # the next secret is rotated too
    states = {o["name"]: o["state"] for o in summary["outcomes"]}
    assert states["DATABASE_URL"] == "rotated-proven-dead"
    new = kv.read_secret_version(path="shop/db", raise_on_deleted_version=True)["data"]["data"]["DATABASE_URL"]
    new_pw = dsn_password(new)
    assert new_pw and new_pw != leaked_pw
    assert can_login(pg.host, pg.port, "shop_app", new_pw)
    assert not can_login(pg.host, pg.port, "shop_app", leaked_pw)
    output = proc.stdout + proc.stderr + (tmp_path / "audit.log").read_text()
    for value in (leaked_pw, leaked, "50%off", new, new_pw, other):
        assert value not in output


def test_a_password_no_parser_can_split_is_one_clean_failure(vault, pg, tmp_path: Path) -> None:
    """An un-encoded ``/`` ends the URL's host part early: nothing parses it, so nothing changes and nothing leaks."""
    rng = random.Random(1516)
    leaked_pw = fake(rng) + "/50%off"
    pg.create_role("shop_app", leaked_pw)
    leaked = f"postgresql://shop_app:{leaked_pw}@{pg.host}:{pg.port}/postgres"
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/db", secret={"DATABASE_URL": leaked})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": "audit.log", "lock_dir": "locks",
           "secrets": [{"name": "DATABASE_URL", "path": "shop/db", "key": "DATABASE_URL",
                        "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}}]}
    config = tmp_path / "rotation.yml"
    config.write_text(yaml.safe_dump(doc))
    env = {"PATH": "/usr/bin:/bin", "VAULT_TOKEN": vault.token, "PG_ADMIN_DSN": pg.admin_dsn,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = run_rotate(config, env, tmp_path)
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert vault.client.secrets.kv.v2.read_secret_version(
        path="shop/db", raise_on_deleted_version=True)["data"]["data"]["DATABASE_URL"] == leaked
    output = proc.stdout + proc.stderr + (tmp_path / "audit.log").read_text()
    for value in (leaked_pw, leaked, leaked_pw.split("/")[0]):
        assert value not in output
