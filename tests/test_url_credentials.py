"""A credential in a URL: kept in memory for this process's git commands, never shown, never on disk.

The source is ``http://USER:TOKEN@127.0.0.1:PORT/origin.git`` on a real smart-HTTP git server that
refuses anyone without the token. The whole playbook runs against it (gate, approve, push, verify);
the CLI stages find the credentials again in the environment. Every stream and every file the purge
writes is searched for the token.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from demo.story_repo import DemoRepo
from sanitize import git
from sanitize.errors import GitError, UsageError
from sanitize.faults import FAULT_ENV
from sanitize.git import CREDENTIALS_ENV, Location
from tests.plugins.git_http import GitHttp

pytestmark = pytest.mark.services


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not p.is_symlink() and needle in p.read_bytes())


def _served(git_http: GitHttp, repo: DemoRepo) -> Path:
    origin = git_http.base / "origin.git"
    git.run(["init", "-q", "--bare", str(origin)])
    git.run(["push", "-q", "--mirror", str(origin)], cwd=repo.path)
    git.run(["update-ref", "-d", "refs/stash"], cwd=origin)  # receive-pack refuses one-level refs
    return origin


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, CREDENTIALS_ENV)}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    return env


def test_location_shows_only_the_redacted_form(git_http: GitHttp) -> None:
    loc = Location(git_http.url("r.git"))
    for shown in (str(loc), repr(loc), f"{loc}", loc.shown, json.dumps({"source": str(loc)})):
        assert git_http.token not in shown and "***@127.0.0.1" in shown
    assert git_http.token not in loc.argument() and git_http.user not in loc.argument()
    env: dict[str, str] = {"GIT_CONFIG_COUNT": "1"}
    loc.add_credentials(env)
    assert env["GIT_SANITIZE_PASSWORD"] == git_http.token and env["GIT_CONFIG_COUNT"] == "3"
    assert env["GIT_CONFIG_VALUE_1"] == ""  # the user's own helpers are reset: none of them stores the token
    assert Location("ssh://git@example.invalid/r.git").shown == "ssh://git@example.invalid/r.git"
    assert Location("/srv/r.git").path == Path("/srv/r.git")
    assert Location("file:///srv/r.git").path == Path("/srv/r.git")
    assert Location(git_http.url("r.git")).path is None
    with pytest.raises(UsageError):  # a line break would smuggle lines into git's credential protocol
        Location("https://u:a%0Aurl=https:%2F%2Felsewhere@127.0.0.1/r.git").add_credentials({})
    raw_slash = f"https://u:{git_http.token[:8]}/{git_http.token[8:]}@127.0.0.1/r.git"  # pasted unencoded
    assert git_http.token[:8] not in Location(raw_slash).shown and git_http.token[8:] not in git.redact_url(raw_slash)


def test_restored_location_takes_its_credentials_from_the_environment(git_http: GitHttp,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    git.run(["init", "-q", "--bare", str(git_http.base / "r.git")])
    stored = Location(git_http.url("r.git")).shown
    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
    with pytest.raises(GitError) as refused:
        git.remote_refs(Location.restore(stored))
    assert CREDENTIALS_ENV in str(refused.value) and git_http.token not in str(refused.value)
    monkeypatch.setenv(CREDENTIALS_ENV, f"{git_http.user}:{git_http.token}")
    assert git.remote_refs(Location.restore(stored)) == {}


def test_playbook_with_a_token_in_its_source_purges_and_never_stores_it(tmp_path: Path, story_repo: DemoRepo,
                                                                        git_http: GitHttp) -> None:
    origin = _served(git_http, story_repo)
    (tmp_path / "roster.csv").write_text("name,email,role\nJordan Lee,jordan@aurora.test,reviewer\n")
    playbook = tmp_path / "purge.yml"
    playbook.write_text(f"source: {git_http.url('origin.git')}\nworkdir: ./wd\n"
                        "approvals: {required: 1, unsigned: true}\n"
                        'notify: {roster: roster.csv, deadline: "2026-12-01"}\n')
    env, wd = _env(), tmp_path / "wd"
    streams: list[str] = []

    def cli(*args: str, expect: int) -> subprocess.CompletedProcess[str]:
        proc = _cli(*args, env=env, cwd=tmp_path)
        streams.append(proc.stdout + proc.stderr)
        assert proc.returncode == expect, f"{args[0]}: exit {proc.returncode}: {proc.stderr[-2000:]}"
        return proc

    cli("run", str(playbook), expect=3)
    assert oct(stat.S_IMODE((wd / "state.json").stat().st_mode)) == oct(0o600)
    status = json.loads(cli("status", "--workdir", str(wd), "--format", "json", expect=0).stdout)
    cli("status", "--workdir", str(wd), expect=0)
    cli("approve", "--workdir", str(wd), "--approver", "Dana Reyes", "--digest", status["plan_digest"], expect=0)
    cli("run", str(playbook), expect=0)

    state = json.loads((wd / "state.json").read_text())
    assert all(rec["status"] in ("done", "skipped") for rec in state["stages"].values()), state["stages"]
    assert git.refs(origin) == state["stages"]["rewrite"]["rewritten_tips"]  # the real address did the push
    assert state["meta"]["source"] == f"http://***@127.0.0.1:{git_http.port}/origin.git"
    assert str(playbook) in state["meta"]["credentials"]["source"]  # where it comes from, not what it is
    assert oct(stat.S_IMODE((wd / "state.json").stat().st_mode)) == oct(0o600)
    token = git_http.token.encode()
    assert _files_holding(wd, token) == []
    assert not [s for s in streams if git_http.token in s]


def test_cli_stages_take_the_credentials_from_the_environment(tmp_path: Path, story_repo: DemoRepo,
                                                              git_http: GitHttp) -> None:
    _served(git_http, story_repo)
    env = _env()
    url = git_http.url("origin.git")
    scan = _cli("scan", url, "--format", "json", "-o", "findings.json", env=env, cwd=tmp_path)
    assert scan.returncode == 1, scan.stderr
    findings = (tmp_path / "findings.json").read_text()
    assert git_http.token not in findings + scan.stdout + scan.stderr
    # plan.json holds the redacted source: without the credentials a later stage says where to give them.
    refused = _cli("plan", "findings.json", "-o", "plan.json", env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert CREDENTIALS_ENV in refused.stderr and git_http.token not in refused.stderr
    env[CREDENTIALS_ENV] = f"{git_http.user}:{git_http.token}"
    plan = _cli("plan", "findings.json", "-o", "plan.json", env=env, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    rewrite = _cli("rewrite", "plan.json", "--workdir", "wd", env=env, cwd=tmp_path)
    assert rewrite.returncode == 0, rewrite.stderr
    assert git_http.token not in plan.stdout + plan.stderr + rewrite.stdout + rewrite.stderr
    assert _files_holding(tmp_path, git_http.token.encode()) == []


def _vault_config(tmp: Path, url: str) -> Path:
    import yaml

    doc = {"backend": {"type": "vault", "url": url, "token_env": "VAULT_TOKEN", "mount": "secret"},
           "audit_log": "audit.log", "lock_dir": "locks",
           "secrets": [{"name": "APP_KEY", "path": "svc/app", "key": "K", "generate": {"kind": "hex", "bytes": 16}}]}
    path = tmp / "rotation.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_vault_url_with_user_info_is_never_printed_nor_logged(tmp_path: Path, vault, git_http: GitHttp) -> None:
    import random
    import socket

    secret = "".join(random.Random(15).choice("abcdef0123456789") for _ in range(32))
    vault.client.secrets.kv.v2.create_or_update_secret(path="svc/app", mount_point="secret", secret={"K": secret})
    creds = f"ops:{git_http.token}"  # a token generated for this test, in the URL's user info
    env = {**_env(), "VAULT_TOKEN": vault.token}
    config = _vault_config(tmp_path, vault.url.replace("://", f"://{creds}@", 1))
    streams = []
    for args in (("--dry-run",), ()):
        proc = _cli("rotate", "--config", str(config), *args, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        streams.append(proc.stdout + proc.stderr)
    data = vault.client.secrets.kv.v2.read_secret_version(path="svc/app", mount_point="secret",
                                                           raise_on_deleted_version=True)["data"]["data"]
    assert data["K"] != secret  # rotated through the URL as given
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = _cli("rotate", "--config", str(_vault_config(tmp_path, f"http://{creds}@127.0.0.1:{port}")), env=env,
                cwd=tmp_path)
    assert down.returncode == 2 and "unreachable" in down.stderr and "***@127.0.0.1" in down.stderr, down.stderr
    streams.append(down.stdout + down.stderr)
    assert not [s for s in streams if git_http.token in s]
    assert _files_holding(tmp_path, git_http.token.encode()) == ["rotation.yml"]
