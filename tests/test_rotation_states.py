"""No false "rotated": every credential ends proven dead, revoked, rotated-unproven (why) or still live (what to do).

Against a real OpenBao store, MariaDB and Redis, through the CLI as an operator runs it.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rotation.kinds import KINDS, detect
from sanitize.secret import Secret

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int = 24) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=240, check=False)


def write_config(tmp: Path, vault: Any, secrets: list[dict[str, Any]]) -> Path:
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": "audit.log", "lock_dir": "locks", "secrets": secrets}
    path = tmp / "rotation.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def stored(vault: Any, path: str) -> dict[str, str]:
    data = vault.client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
    return dict(data["data"]["data"])


def test_dsns_without_their_target_are_left_alone_and_reported_still_live(vault, mariadb, redis_server,
                                                                          tmp_path: Path) -> None:
    """The incident's MySQL and Redis DSNs, no target: before, the store rotated and both servers refused it."""
    rng = random.Random(12)
    mysql_dsn = mariadb.create_user("shop_app", fake(rng))
    redis_dsn = redis_server.create_user("cache_app", fake(rng))
    jwt = fake(rng, 40)
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/app", secret={
        "MYSQL_URL": mysql_dsn, "REDIS_URL": redis_dsn, "JWT_SECRET": jwt})
    config = write_config(tmp_path, vault, [
        {"name": n, "path": "shop/app", "key": n} for n in ("MYSQL_URL", "REDIS_URL", "JWT_SECRET")])
    env = {**os.environ, "VAULT_TOKEN": vault.token}

    proc = run_cli("--config", str(config), env=env, cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == ("git-sanitize: 2 exposed credential(s) still live: MYSQL_URL, REDIS_URL "
                                   "(each summary outcome's action says what to do)")
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "still live" and summary["rotated"] == ["JWT_SECRET"]
    assert summary["states"] == {"rotated-unproven": ["JWT_SECRET"], "still-live": ["MYSQL_URL", "REDIS_URL"]}
    out = {o["name"]: o for o in summary["outcomes"]}
    assert out["MYSQL_URL"]["kind"] == "mysql-dsn" and out["REDIS_URL"]["kind"] == "redis-dsn"
    assert "target: {type: mysql, admin_dsn_env: NAME}" in out["MYSQL_URL"]["action"]
    assert "target: {type: redis, admin_dsn_env: NAME}" in out["REDIS_URL"]["action"]
    assert "no target" in out["JWT_SECRET"]["why"]
    # The store still holds what the servers accept; nothing was half-rotated.
    now = stored(vault, "shop/app")
    assert now["MYSQL_URL"] == mysql_dsn and now["REDIS_URL"] == redis_dsn and now["JWT_SECRET"] != jwt
    mariadb.connect(mysql_dsn).close()
    assert redis_server.client(redis_dsn).ping()
    audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    end = [r for r in audit if r["event"] == "rotation.end"][-1]
    assert end["still_live"] == ["MYSQL_URL", "REDIS_URL"]

    # Configured with their targets, the same run proves both leaked logins dead and exits 0.
    config = write_config(tmp_path, vault, [
        {"name": "MYSQL_URL", "path": "shop/app", "key": "MYSQL_URL",
         "target": {"type": "mysql", "admin_dsn_env": "MYSQL_ADMIN_DSN"}},
        {"name": "REDIS_URL", "path": "shop/app", "key": "REDIS_URL",
         "target": {"type": "redis", "admin_dsn_env": "REDIS_ADMIN_DSN"}}])
    env.update(MYSQL_ADMIN_DSN=mariadb.admin_dsn, REDIS_ADMIN_DSN=redis_server.admin_dsn)
    proc = run_cli("--config", str(config), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["states"] == {"rotated-proven-dead": ["MYSQL_URL", "REDIS_URL"]}
    everything = proc.stdout + proc.stderr + (tmp_path / "audit.log").read_text()
    for value in (mysql_dsn, redis_dsn, jwt, *stored(vault, "shop/app").values(), mariadb.admin_password,
                  redis_server.password):
        assert value not in everything


def test_a_provider_token_is_still_live_until_acknowledged(vault, tmp_path: Path) -> None:
    rng = random.Random(77)
    token = "gh" + "p_" + fake(rng, 36)  # built at run time: GitHub's personal-token shape
    vault.client.secrets.kv.v2.create_or_update_secret(path="ci", secret={"GITHUB_TOKEN": token})
    config = write_config(tmp_path, vault, [{"name": "GITHUB_TOKEN", "path": "ci", "key": "GITHUB_TOKEN"}])
    env = {**os.environ, "VAULT_TOKEN": vault.token}

    proc = run_cli("--config", str(config), env=env, cwd=tmp_path)
    assert proc.returncode == 1
    outcome = json.loads(proc.stdout.splitlines()[-1])["outcomes"][0]
    assert outcome["status"] == "not rotated" and outcome["state"] == "still-live"
    assert "https://github.com/settings/tokens" in outcome["action"] and "--ack GITHUB_TOKEN" in outcome["action"]
    assert stored(vault, "ci")["GITHUB_TOKEN"] == token  # a random value in its place would be no rotation

    # Acknowledged while the store still holds the leaked token: still live, and says why.
    assert run_cli("--config", str(config), "--ack", "GITHUB_TOKEN", env=env, cwd=tmp_path).returncode == 0
    findings = tmp_path / "findings.json"
    from sanitize.scan.report import Finding, ScanReport

    findings.write_text(ScanReport(source="/repo", refs={}, findings=[Finding(
        rule="github.token", kind="content", path="ci.yml", blob="b" * 40, commit="c" * 40, line=1,
        secret_sha256=Secret(token).sha256, preview="…", refs=["refs/heads/main"])]).to_json())
    proc = run_cli("--config", str(config), "--findings", str(findings), env=env, cwd=tmp_path)
    assert proc.returncode == 1
    outcome = json.loads(proc.stdout.splitlines()[-1])["outcomes"][0]
    assert outcome["state"] == "still-live" and "the store still holds the leaked value" in outcome["action"]

    # Revoked at GitHub, replacement stored, acknowledged: revoked (on the operator's word, and it says so).
    vault.client.secrets.kv.v2.create_or_update_secret(path="ci", secret={"GITHUB_TOKEN": "gh" + "p_" + fake(rng, 36)})
    proc = run_cli("--config", str(config), "--findings", str(findings), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.splitlines()[-1])["outcomes"][0]
    assert outcome["state"] == "revoked" and "not verified by git-sanitize" in outcome["proof"]
    assert token not in proc.stdout + proc.stderr + (tmp_path / "audit.log").read_text()


def test_ack_of_an_unknown_name_is_one_line_exit_2(vault, tmp_path: Path) -> None:
    config = write_config(tmp_path, vault, [{"name": "X", "path": "p", "key": "X"}])
    proc = run_cli("--config", str(config), "--ack", "NOPE", env={**os.environ, "VAULT_TOKEN": vault.token},
                   cwd=tmp_path)
    assert proc.returncode == 2 and "not a secret in the config" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("name", "value", "kind"), [
    ("DB", "mysql://u:{pw}@db:3306/shop", "mysql-dsn"),
    ("DB", "mariadb://u:{pw}@db/shop", "mysql-dsn"),
    ("CACHE", "rediss://:{pw}@cache:6380/0", "redis-dsn"),
    ("DB", "postgresql://u:{pw}@db/app", "postgres-dsn"),
    ("DB", "host=db user=u password={pw}", "postgres-dsn"),
    ("DB", "mongodb+srv://u:{pw}@cluster/app", "mongodb-dsn"),
    ("AWS_SECRET_ACCESS_KEY", "{pw}", "aws-access-key"),
    ("KEYS", '{{"aws_access_key_id": "{pw}", "aws_secret_access_key": "{pw}"}}', "aws-access-key"),
    ("T", "xox" + "b-{pw}", "slack-token"),
    ("T", "sk_" + "live_{pw}", "stripe-key"),
    ("T", "sk-" + "ant-{pw}", "anthropic-key"),
    ("T", "gl" + "pat-{pw}", "gitlab-token"),
    ("OPENAI_API_KEY", "{pw}", "openai-key"),
    ("JWT_SECRET", "{pw}", "secret"),
])
def test_kind_detection(name: str, value: str, kind: str) -> None:
    pw = fake(random.Random(kind), 32)
    assert detect(name, Secret(value.format(pw=pw))).id == kind


def test_every_kind_can_be_rotated_or_has_a_step() -> None:
    for kind in KINDS.values():
        assert kind.targets or kind.store_only or len(kind.action) > 40, kind.id
        assert "--ack X" in kind.instruction("X")


def test_only_reports_the_other_exposed_secrets_as_still_live(vault, tmp_path: Path) -> None:
    from rotation.config import parse_config
    from rotation.engine import rotate
    from sanitize.scan.report import Finding, ScanReport

    rng = random.Random(5)
    a, b = fake(rng, 40), fake(rng, 40)
    vault.client.secrets.kv.v2.create_or_update_secret(path="app", secret={"A": a, "B": b})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": str(tmp_path / "audit.log"), "lock_dir": str(tmp_path / "locks"),
           "secrets": [{"name": "A", "path": "app", "key": "A"}, {"name": "B", "path": "app", "key": "B"}]}
    report = ScanReport(source="/repo", refs={}, findings=[Finding(
        rule="default.jwt-secret", kind="content", path="auth.ts", blob="b" * 40, commit="c" * 40, line=1,
        secret_sha256=Secret(v).sha256, preview="…", refs=["refs/heads/main"]) for v in (a, b)])
    summary = rotate(parse_config(doc, env={"VAULT_TOKEN": vault.token}), only=["A"], findings=report)
    assert summary.rotated == ["A"] and summary.named("not selected") == ["B"]
    assert summary.still_live == ["B"] and summary.exit_code == 1
    assert summary.named("not in config") == []  # B's finding is B's, not an unknown credential
