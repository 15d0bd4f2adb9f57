"""Fault injection: the process is SIGKILLed at each boundary, then the same command is run again.

After each: the re-run finishes correctly, the remote is entirely old or
entirely new, and the database password and the store's current value agree.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from demo.story_repo import DemoRepo
from sanitize import git
from sanitize.faults import FAULT_ENV

pytestmark = pytest.mark.services


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          env=env or _clean_env(), cwd=cwd, timeout=240)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env.update(extra)
    return env


# Rotation ------------------------------------------------------------------------------------


def _logs_in(dsn: str) -> bool:
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.parametrize("point", ["rotate:after-create", "rotate:after-set", "rotate:before-finish"])
def test_rotation_killed_at_each_step_then_rerun_leaves_store_and_database_agreeing(
        point: str, vault, pg, tmp_path: Path) -> None:
    leaked = pg.create_role("aurora_app", secrets.token_urlsafe(18))
    vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", mount_point="secret",
                                                       secret={"DATABASE_URL": leaked, "OTHER": "kept"})
    config = tmp_path / "rotation.yml"
    config.write_text(
        f'backend: {{type: vault, url: "{vault.url}", token_env: VAULT_TOKEN, mount: secret}}\n'
        "secrets:\n"
        "  - {name: DATABASE_URL, path: aurora/db, key: DATABASE_URL, generate: {kind: password, length: 32},\n"
        "     target: {type: postgres, admin_dsn_env: PG_ADMIN_DSN}}\n")
    args = ["rotate", "--config", str(config), "--audit-log", str(tmp_path / "audit.log")]
    env = _clean_env(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.admin_dsn)

    killed = _cli(*args, env={**env, FAULT_ENV: point})
    assert killed.returncode == -signal.SIGKILL

    again = _cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    data = vault.client.secrets.kv.v2.read_secret_version(path="aurora/db", mount_point="secret",
                                                          raise_on_deleted_version=True)["data"]["data"]
    assert data["OTHER"] == "kept"
    assert data["DATABASE_URL"] != leaked
    assert _logs_in(data["DATABASE_URL"]), "the store's current DSN must log in"
    assert not _logs_in(leaked), "the leaked DSN must be rejected"


class VanishingVault:
    """An HTTP proxy in front of the Vault API that goes away after N requests, until restored.

    Requests past the limit get their connection dropped without an answer, exactly what a client
    sees when the server dies mid-run.
    """

    def __init__(self, upstream: str, limit: int) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        self.limit, self.seen = limit, 0
        host, port = urlsplit(upstream).hostname, urlsplit(upstream).port
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.seen += 1
                if proxy.limit and proxy.seen > proxy.limit:
                    self.close_connection = True
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request(self.command, self.path, body=body or None,
                             headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = do_PATCH = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def restore(self) -> None:
        self.limit = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("after_requests", [2, 4, 6, 8, 10])
def test_vault_going_away_mid_rotation_then_rerun_leaves_store_and_database_agreeing(
        after_requests: int, vault, pg, tmp_path: Path) -> None:
    leaked = pg.create_role("aurora_app", secrets.token_urlsafe(18))
    vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", mount_point="secret",
                                                       secret={"DATABASE_URL": leaked})
    proxy = VanishingVault(vault.url, after_requests)
    try:
        config = tmp_path / "rotation.yml"
        config.write_text(
            f'backend: {{type: vault, url: "{proxy.url}", token_env: VAULT_TOKEN, mount: secret}}\n'
            "secrets:\n"
            "  - {name: DATABASE_URL, path: aurora/db, key: DATABASE_URL, generate: {kind: password, length: 32},\n"
            "     target: {type: postgres, admin_dsn_env: PG_ADMIN_DSN}}\n")
        args = ["rotate", "--config", str(config), "--audit-log", str(tmp_path / "audit.log")]
        env = _clean_env(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.admin_dsn)

        failed = _cli(*args, env=env)
        assert failed.returncode in (1, 2), failed.stdout + failed.stderr
        assert "Traceback" not in failed.stderr
        current = vault.client.secrets.kv.v2.read_secret_version(
            path="aurora/db", mount_point="secret", raise_on_deleted_version=True)["data"]["data"]["DATABASE_URL"]
        assert _logs_in(current), "whatever the store holds as current must still log in"

        proxy.restore()
        again = _cli(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        proxy.close()
    data = vault.client.secrets.kv.v2.read_secret_version(path="aurora/db", mount_point="secret",
                                                          raise_on_deleted_version=True)["data"]["data"]
    assert data["DATABASE_URL"] != leaked
    assert _logs_in(data["DATABASE_URL"])
    assert not _logs_in(leaked)


@pytest.mark.parametrize("after_requests", [2, 4, 6, 7, 8])
def test_secrets_manager_going_away_mid_rotation_then_rerun_leaves_store_and_database_agreeing(
        after_requests: int, moto, pg, tmp_path: Path) -> None:
    sid = "aurora/db/DATABASE_URL"
    leaked = pg.create_role("aurora_app", secrets.token_urlsafe(18))
    moto.client().create_secret(Name=sid, SecretString=leaked)

    def current() -> str:
        return moto.client().get_secret_value(SecretId=sid, VersionStage="AWSCURRENT")["SecretString"]

    proxy = VanishingVault(moto.endpoint_url, after_requests)
    try:
        config = tmp_path / "rotation.yml"
        config.write_text(
            f'backend: {{type: aws, region: {moto.region}, endpoint_url: "{proxy.url}"}}\n'
            "secrets:\n"
            f"  - {{name: DATABASE_URL, secret_id: {sid}, generate: {{kind: password, length: 32}},\n"
            "     target: {type: postgres, admin_dsn_env: PG_ADMIN_DSN}}\n")
        args = ["rotate", "--config", str(config), "--audit-log", str(tmp_path / "audit.log")]
        env = _clean_env(PG_ADMIN_DSN=pg.admin_dsn)

        failed = _cli(*args, env=env)
        assert failed.returncode in (1, 2), failed.stdout + failed.stderr
        assert "Traceback" not in failed.stderr
        assert _logs_in(current()), "whatever the store holds as current must still log in"

        proxy.restore()
        again = _cli(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        proxy.close()
    assert current() != leaked
    assert _logs_in(current())
    assert not _logs_in(leaked)


# Rewrite -------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["rewrite:after-clone", "rewrite:after-bundle", "rewrite:inside-filter-repo"])
def test_rewrite_killed_at_each_boundary_then_rerun_finishes_and_the_original_is_recoverable(
        point: str, tmp_path: Path, story_repo: DemoRepo) -> None:
    origin = tmp_path / "origin.git"
    git.run(["init", "-q", "--bare", str(origin)])
    git.run(["push", "-q", "--mirror", str(origin)], cwd=story_repo.path)
    original = git.refs(origin)
    assert _cli("scan", str(origin), "--format", "json", "-o", str(tmp_path / "findings.json")).returncode == 1
    assert _cli("plan", str(tmp_path / "findings.json"), "-o", str(tmp_path / "plan.json")).returncode == 0
    args = ("rewrite", str(tmp_path / "plan.json"), "--workdir", str(tmp_path / "wd"))

    killed = _cli(*args, env=_clean_env(**{FAULT_ENV: point}))
    assert killed.returncode == -signal.SIGKILL
    assert git.refs(origin) == original, "the source is never touched"

    again = _cli(*args)
    assert again.returncode == 0, again.stderr
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=tmp_path / "wd" / "mirror.git",
                             capture_output=True, check=True).stdout
    assert not any(p.value.encode() in objects for p in story_repo.planted)
    restored = _cli("restore", "--workdir", str(tmp_path / "wd"), "--to", str(tmp_path / "restored.git"))
    assert restored.returncode == 0, restored.stderr
    assert git.refs(tmp_path / "restored.git") == original


# Push ----------------------------------------------------------------------------------------


class Rewritten:
    """The story repository behind a bare remote, scanned, planned, rewritten and approved."""

    def __init__(self, tmp: Path, repo: DemoRepo) -> None:
        self.origin = tmp / "origin.git"
        git.run(["init", "-q", "--bare", str(self.origin)])
        git.run(["push", "-q", "--mirror", str(self.origin)], cwd=repo.path)
        self.workdir = tmp / "wd"
        assert _cli("scan", str(self.origin), "--format", "json", "-o", str(tmp / "findings.json")).returncode == 1
        assert _cli("plan", str(tmp / "findings.json"), "-o", str(tmp / "plan.json")).returncode == 0
        proc = _cli("rewrite", str(tmp / "plan.json"), "--workdir", str(self.workdir))
        assert proc.returncode == 0, proc.stderr
        digest = json.loads((tmp / "plan.json").read_text())["digest"]
        assert _cli("approve", "--workdir", str(self.workdir), "--approver", "Dana Reyes",
                    "--digest", digest).returncode == 0
        self.before = git.refs(self.origin)
        self.rewritten = git.refs(self.workdir / "mirror.git")

    def remote_is_all_old_or_all_new(self) -> str:
        now = git.refs(self.origin)
        if now == self.before:
            return "old"
        assert {r: now.get(r) for r in self.before} == {r: self.rewritten.get(r) for r in self.before}
        return "new"


@pytest.fixture
def rewritten(tmp_path: Path, story_repo: DemoRepo) -> Rewritten:
    return Rewritten(tmp_path, story_repo)


@pytest.mark.parametrize("point", ["push:before-transfer", "push:after-transfer"])
def test_push_killed_before_or_after_the_transfer_then_rerun_pushes_once(point: str, rewritten: Rewritten) -> None:
    killed = _cli("push", "--workdir", str(rewritten.workdir), "--allow-unsigned", env=_clean_env(**{FAULT_ENV: point}))
    assert killed.returncode == -signal.SIGKILL
    assert rewritten.remote_is_all_old_or_all_new() == ("old" if point == "push:before-transfer" else "new")

    again = _cli("push", "--workdir", str(rewritten.workdir), "--allow-unsigned")
    assert again.returncode == 0, again.stderr
    assert rewritten.remote_is_all_old_or_all_new() == "new"


def test_push_killed_mid_transfer_leaves_the_remote_entirely_old(rewritten: Rewritten, tmp_path: Path) -> None:
    marker = tmp_path / "receiving"
    hook = rewritten.origin / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 60\n")
    hook.chmod(0o755)
    proc = subprocess.Popen([sys.executable, "-m", "sanitize.cli", "push", "--workdir", str(rewritten.workdir),
                             "--allow-unsigned"],
                            env=_clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the push never reached the remote"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole transfer: git-sanitize, git push, receive-pack, hook
        proc.wait(timeout=30)
    assert rewritten.remote_is_all_old_or_all_new() == "old"

    hook.unlink()
    again = _cli("push", "--workdir", str(rewritten.workdir), "--allow-unsigned")
    assert again.returncode == 0, again.stderr
    assert rewritten.remote_is_all_old_or_all_new() == "new"


def test_rewrite_killed_at_random_moments_of_the_mirror_clone_then_rerun_finishes(
        tmp_path: Path, story_repo: DemoRepo) -> None:
    """The clone goes to ``mirror.git.partial`` and is renamed when complete: a kill mid-clone never wedges."""
    origin = tmp_path / "origin.git"
    git.run(["init", "-q", "--bare", str(origin)])
    git.run(["push", "-q", "--mirror", str(origin)], cwd=story_repo.path)
    assert _cli("scan", str(origin), "--format", "json", "-o", str(tmp_path / "findings.json")).returncode == 1
    assert _cli("plan", str(tmp_path / "findings.json"), "-o", str(tmp_path / "plan.json")).returncode == 0
    rng = random.Random(20261202)
    mid_clone = 0
    for trial in range(4):
        wd = tmp_path / f"wd{trial}"
        args = ("rewrite", str(tmp_path / "plan.json"), "--workdir", str(wd), "--no-progress")
        proc = subprocess.Popen([sys.executable, "-m", "sanitize.cli", *args], env=_clean_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        partial = wd / "mirror.git.partial"
        deadline = time.monotonic() + 120
        while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.03))
        os.killpg(proc.pid, signal.SIGKILL)  # git-sanitize and its git clone
        proc.wait(timeout=30)
        mid_clone += partial.exists()
        again = _cli(*args)
        assert again.returncode == 0, again.stderr
        assert not partial.exists() and git.refs(wd / "mirror.git") != git.refs(origin)
    assert mid_clone, "no kill landed inside the clone; the test proved nothing"


def test_push_to_git_daemon_killed_at_random_moments_never_leaves_the_remote_mixed(
        tmp_path: Path, story_repo: DemoRepo, git_daemon) -> None:
    """Over git://, receive-pack may finish after the client dies: the remote is all old or all new, and a
    re-run either pushes or sees its own push landed."""
    rng = random.Random(7331)
    outcomes = set()
    for trial in range(3):
        trial_dir = tmp_path / f"t{trial}"
        trial_dir.mkdir()
        rewritten = Rewritten(trial_dir, story_repo)
        served = git_daemon.base / f"origin{trial}.git"
        rewritten.origin.rename(served)
        rewritten.origin = served
        push = ("push", "--workdir", str(rewritten.workdir), "--remote", git_daemon.url(served.name),
                "--allow-unsigned")
        proc = subprocess.Popen([sys.executable, "-m", "sanitize.cli", *push], env=_clean_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.2, 1.5))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(0.5)  # a receive-pack the daemon started may still be finishing
        outcomes.add(rewritten.remote_is_all_old_or_all_new())
        again = _cli(*push)
        assert again.returncode == 0, again.stderr
        assert rewritten.remote_is_all_old_or_all_new() == "new"
    assert outcomes <= {"old", "new"}
