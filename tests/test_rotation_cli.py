"""``git-sanitize rotate`` as an operator runs it: real OpenBao, real PostgreSQL, subprocesses."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from sanitize.audit import AuditLog

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int = 24) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=240, check=False)


def popen_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sanitize.cli", "rotate", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "PG_"))}
    env.update(extra)
    return env


def write_config(tmp: Path, url: str, secrets: list[dict], **extra: object) -> Path:
    doc = {"backend": {"type": "vault", "url": url, "token_env": "VAULT_TOKEN", "mount": "secret"},
           "audit_log": "audit.log", "lock_dir": "locks", "secrets": secrets, **extra}
    path = tmp / "rotation.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_cli_compromised_rotation_never_prints_a_value(vault, pg, tmp_path: Path) -> None:
    rng = random.Random(7)
    jwt, admin, pw = fake(rng, 40), fake(rng), fake(rng)
    dsn = pg.create_role("aurora_app", pw)
    kv = vault.client.secrets.kv.v2
    kv.create_or_update_secret(path="aurora/app", secret={"JWT_SECRET": jwt, "ADMIN_PASSWORD": admin})
    kv.create_or_update_secret(path="aurora/db", secret={"DATABASE_URL": dsn})
    config = write_config(tmp_path, vault.url, [
        {"name": "JWT_SECRET", "path": "aurora/app", "key": "JWT_SECRET", "generate": {"kind": "hex", "bytes": 64}},
        {"name": "ADMIN_PASSWORD", "path": "aurora/app", "key": "ADMIN_PASSWORD",
         "generate": {"kind": "password", "length": 32}},
        {"name": "DATABASE_URL", "path": "aurora/db", "key": "DATABASE_URL",
         "generate": {"kind": "password", "length": 32},
         "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}},
    ])
    env = base_env(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.admin_dsn)
    proc = run_cli("--config", str(config), "--mode", "compromised", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records[-1]["step"] == "summary" and records[-1]["rotated"] == ["JWT_SECRET", "ADMIN_PASSWORD",
                                                                           "DATABASE_URL"]
    assert any(r["status"] == "leaked credential rejected" for r in records)
    new_app = kv.read_secret_version(path="aurora/app", raise_on_deleted_version=True)["data"]["data"]
    new_db = kv.read_secret_version(path="aurora/db", raise_on_deleted_version=True)["data"]["data"]
    audit = (tmp_path / "audit.log").read_text()
    new_pw = new_db["DATABASE_URL"].split(":")[2].split("@")[0]
    values = [jwt, admin, pw, dsn, new_app["JWT_SECRET"], new_app["ADMIN_PASSWORD"], new_db["DATABASE_URL"], new_pw,
              pg.admin_password, vault.token * 3]
    for text in (proc.stdout, proc.stderr, audit):
        for value in values:
            assert value not in text


def _seed_exposed(vault, names: list[str], path: Path) -> Path:
    """Secrets whose values a scan found (so due whatever their age); returns the findings file."""
    from sanitize.scan.report import Finding, ScanReport
    from sanitize.secret import sha256_hex

    kv = vault.client.secrets.kv.v2
    rng = random.Random(11)
    findings = []
    for name in names:
        value = fake(rng)
        kv.create_or_update_secret(path=f"svc/{name}", secret={"V": value})
        findings.append(Finding(rule="default.api-key", kind="content", path=".env", blob="b" * 40, commit="c" * 40,
                                line=1, secret_sha256=sha256_hex(value), preview="…", refs=["refs/heads/main"]))
    path.write_text(ScanReport(source="/repo", refs={}, findings=findings).to_json())
    return path


def test_two_concurrent_due_runs_rotate_each_secret_exactly_once(vault, tmp_path: Path) -> None:
    names = [f"S{i}" for i in range(6)]
    findings = _seed_exposed(vault, names, tmp_path / "findings.json")
    # A slow hook widens the window in which both runs are at work.
    hook = [sys.executable, "-c", "import sys, time; sys.stdin.read(); time.sleep(0.3)"]
    config = write_config(tmp_path, vault.url, [
        {"name": n, "path": f"svc/{n}", "key": "V", "generate": {"kind": "hex", "bytes": 16}, "max_age": "30d",
         "target": {"type": "command", "argv": hook}} for n in names])
    env = base_env(VAULT_TOKEN=vault.token)
    # Each exposed value is due; under the lease a run re-reads it, so the value the other run put there is not.
    runs = [popen_cli("--config", str(config), "--mode", "scheduled", "--due", "--findings", str(findings), env=env,
                      cwd=tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in runs]
    # A secret the other run held (skipped) may still be live as far as this run knows: exit 1 then.
    assert all(p.returncode in (0, 1) for p in runs), [o[1] for o in outs]
    rotated = Counter(r["secret"] for r in AuditLog(tmp_path / "audit.log").records()
                      if r["event"] == "rotation.secret" and r["status"] == "rotated")
    assert rotated == Counter({n: 1 for n in names})
    for r in AuditLog(tmp_path / "audit.log").records():
        if r["event"] == "rotation.secret" and r["status"] == "not due":  # found it already replaced
            assert r["state"] is None and "already replaced by another run" in r["reason"]
    for n in names:
        meta = vault.client.secrets.kv.v2.read_secret_metadata(path=f"svc/{n}")["data"]
        assert meta["current_version"] == 2
    # The other run saw each secret either locked or already fresh.
    others = Counter(r["status"] for r in AuditLog(tmp_path / "audit.log").records()
                     if r["event"] == "rotation.secret" and r["status"] != "rotated")
    assert set(others) <= {"skipped", "not due"} and sum(others.values()) == len(names)


def test_nothing_due_exits_zero(vault, tmp_path: Path) -> None:
    vault.client.secrets.kv.v2.create_or_update_secret(path="svc/fresh", secret={"V": "x" * 20})
    config = write_config(tmp_path, vault.url, [{"name": "FRESH", "path": "svc/fresh", "key": "V",
                                                 "max_age": "30d"}])
    proc = run_cli("--config", str(config), "--mode", "scheduled", "--due", env=base_env(VAULT_TOKEN=vault.token),
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["rotated"] == [] and summary["outcomes"][0]["status"] == "not due"


def test_unreachable_vault_is_one_line_exit_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path, f"http://127.0.0.1:{port}", [{"name": "A", "path": "a", "key": "k"}])
    proc = run_cli("--config", str(config), env=base_env(VAULT_TOKEN="t" * 10), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "unreachable" in line and f"127.0.0.1:{port}" in line


def test_bad_token_is_one_line_exit_2(vault, tmp_path: Path) -> None:
    vault.client.secrets.kv.v2.create_or_update_secret(path="a", secret={"k": "v" * 20})
    config = write_config(tmp_path, vault.url, [{"name": "A", "path": "a", "key": "k"}])
    bad = "not-the-token-" + fake(random.Random(3), 8)
    proc = run_cli("--config", str(config), env=base_env(VAULT_TOKEN=bad), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "refused the token" in line and bad not in proc.stdout + proc.stderr
    assert vault.client.secrets.kv.v2.read_secret_version(path="a", raise_on_deleted_version=True)["data"][
        "metadata"]["version"] == 1


@pytest.mark.parametrize(("text", "needle"), [
    ("backend: {type: vault, url: 'http://127.0.0.1:1'}\nsecrets: [{name: A, path: a, key: k, colour: red}]\n",
     "secrets[0].colour"),
    ("backend: {type: vault, url: 'http://127.0.0.1:1'\n", "not valid YAML"),
    ("backend: {type: vault, url: 'http://127.0.0.1:1', token_env: NOT_SET_HERE}\nsecrets: [{name: A, path: a}]\n",
     "NOT_SET_HERE"),
    ("- just\n- a list\n", "mapping"),
])
def test_malformed_config_is_one_line_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "rotation.yml"
    config.write_text(text)
    proc = run_cli("--config", str(config), env=base_env(VAULT_TOKEN="t" * 10), cwd=tmp_path)
    assert proc.returncode == 2
    assert needle in one_line_error(proc)
    assert not (tmp_path / "rotation-audit.log").exists()


def test_failed_rotation_is_exit_1_with_the_step(vault, pg, tmp_path: Path) -> None:
    pw = fake(random.Random(5))
    dsn = pg.create_role("app2", pw)
    vault.client.secrets.kv.v2.create_or_update_secret(path="db", secret={"DSN": dsn})
    config = write_config(tmp_path, vault.url, [{"name": "DSN", "path": "db", "key": "DSN",
                                                 "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}}])
    env = base_env(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.dsn("postgres", "wrong-" + pw[:4]))
    proc = run_cli("--config", str(config), env=env, cwd=tmp_path)
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "DSN: set: postgres: cannot connect as admin" in line and "rolled back" in line
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "failed" and summary["failed"] == ["DSN"]
    assert pw not in proc.stdout + proc.stderr + (tmp_path / "audit.log").read_text()
    assert vault.client.secrets.kv.v2.read_secret_version(path="db", raise_on_deleted_version=True)["data"][
        "data"]["DSN"] == dsn


@pytest.mark.parametrize("kind", ["cron", "systemd", "k8s"])
def test_print_schedule_rotates_nothing(tmp_path: Path, kind: str) -> None:
    config = tmp_path / "rotation.yml"
    config.write_text("not even read\n")
    proc = run_cli("--config", str(config), "--print-schedule", kind, env=base_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--mode scheduled --due" in proc.stdout or "--due" in proc.stdout
    if kind != "k8s":
        assert str(config) in proc.stdout
    assert not (tmp_path / "rotation-audit.log").exists()


def test_rotate_with_the_story_repos_findings(story_repo, vault, pg, tmp_path: Path) -> None:
    """The purge's last stage: the scan's findings say which stored secrets leaked; those rotate first."""
    from sanitize.scan.engine import scan_repository

    planted = {p.rule: p.value for p in story_repo.planted}
    report = scan_repository(str(story_repo.path))
    findings = tmp_path / "findings.json"
    findings.write_text(report.to_json())
    leaked_dsn = pg.create_role("aurora_app", planted["dsn.password"])
    unexposed = fake(random.Random(99), 30)
    kv = vault.client.secrets.kv.v2
    kv.create_or_update_secret(path="aurora/app", secret={"API_KEY": unexposed,
                                                          "JWT_SECRET": planted["default.jwt-secret"],
                                                          "ADMIN_PASSWORD": planted["default.admin-password"]})
    kv.create_or_update_secret(path="aurora/db", secret={"DATABASE_URL": leaked_dsn})
    config = write_config(tmp_path, vault.url, [
        {"name": "API_KEY", "path": "aurora/app", "key": "API_KEY", "generate": {"kind": "hex"}},
        {"name": "JWT_SECRET", "path": "aurora/app", "key": "JWT_SECRET", "generate": {"kind": "hex", "bytes": 64}},
        {"name": "ADMIN_PASSWORD", "path": "aurora/app", "key": "ADMIN_PASSWORD"},
        {"name": "DATABASE_URL", "path": "aurora/db", "key": "DATABASE_URL",
         "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}},
    ])
    env = base_env(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.admin_dsn)
    proc = run_cli("--config", str(config), "--findings", str(findings), env=env, cwd=tmp_path)
    # The story also leaks credentials no configured secret holds (the transcript's AWS pair and OpenAI key,
    # the TLS key, the .env's values): the run rotates what it can and exits 1 while those are still live.
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = records[-1]
    assert summary["status"] == "still live"
    assert summary["exposed"] == ["JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL"]
    assert summary["rotated"] == ["JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL", "API_KEY"]
    assert [r["status"] for r in records if r["step"] == "match"] == [
        "exposed in history: JWT_SECRET", "exposed in history: ADMIN_PASSWORD", "exposed in history: DATABASE_URL"]
    assert any(r["status"] == "leaked credential rejected" for r in records)
    assert summary["states"]["rotated-proven-dead"] == ["DATABASE_URL"]
    assert summary["states"]["rotated-unproven"] == ["JWT_SECRET", "ADMIN_PASSWORD", "API_KEY"]
    live = summary["still_live"]
    assert {name.split(":")[0] for name in live} >= {"aws.access-key", "aws.secret-key", "openai.key",
                                                     "private-key.block"}
    assert one_line_error(proc).startswith(f"git-sanitize: {len(live)} exposed credential(s) still live")
    by_name = {o["name"]: o for o in summary["outcomes"]}
    openai = next(by_name[n] for n in live if n.startswith("openai.key:"))
    assert "https://platform.openai.com/api-keys" in openai["action"] and f"--ack {openai['name']}" in openai["action"]
    output = proc.stdout + proc.stderr + (tmp_path / "audit.log").read_text()

    # The operator revokes them at the providers and says so; the next run reports every credential done.
    ack = run_cli("--config", str(config), *[arg for name in live for arg in ("--ack", name)], "--note", "INC-42",
                  env=env, cwd=tmp_path)
    assert ack.returncode == 0, ack.stderr
    assert [json.loads(line)["secret"] for line in ack.stdout.splitlines()] == live
    again = run_cli("--config", str(config), "--findings", str(findings), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    final = json.loads(again.stdout.splitlines()[-1])
    assert final["status"] == "ok" and final["still_live"] == []
    outcomes = {o["name"]: o for o in final["outcomes"]}
    assert outcomes[openai["name"]]["state"] == "revoked" and "INC-42" in outcomes[openai["name"]]["proof"]
    # The findings of values rotated by the first run keep the state that run proved.
    dsn_finding = [o for o in final["outcomes"] if o["status"] == "not in config"
                   and o["state"] == "rotated-proven-dead"]
    assert dsn_finding and "rotated as DATABASE_URL" in dsn_finding[0]["proof"]
    output += again.stdout + again.stderr + ack.stdout + (tmp_path / "audit.log").read_text()
    for value in [*planted.values(), unexposed, leaked_dsn]:
        assert value not in output
