"""No leaks: every command of the pipeline and of rotation, on the full fixture, grepped for every value.

Plants every kind of fake secret, runs scan (all formats), plan, rewrite, notify, approve, status, push
(dry run and real), verify, guard and rotate (dry run and real), then searches stdout, stderr and every
file written — reports, notices, state, audit logs, plan.json — for every planted value and every value
rotation generated. Only the files that exist to hold secrets may contain them, with mode 0600 in a
0700 workdir.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from demo.story_repo import DemoRepo
from sanitize import git
from sanitize.faults import FAULT_ENV
from tests.plugins.demo_repo import secret_needles

pytestmark = pytest.mark.services

SECRET_BEARING = {"backup.bundle", "plan.secrets"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_command_prints_or_writes_a_secret(tmp_path: Path, demo_repo: DemoRepo, vault) -> None:
    origin = tmp_path / "origin.git"
    git.run(["clone", "-q", "--mirror", "--no-local", str(demo_repo.path), str(origin)])
    # A hosted remote never holds a stash (receive-pack refuses one-level refs): only the local scan sees it.
    git.run(["update-ref", "-d", "refs/stash"], cwd=origin)
    workdir = tmp_path / "wd"
    jwt = next(p.value for p in demo_repo.planted if p.rule == "default.jwt-secret")
    vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/app", mount_point="secret",
                                                       secret={"JWT_SECRET": jwt})
    (tmp_path / "rotation.yml").write_text(
        f'backend: {{type: vault, url: "{vault.url}", token_env: VAULT_TOKEN, mount: secret}}\n'
        "secrets:\n  - {name: JWT_SECRET, path: aurora/app, key: JWT_SECRET, generate: {kind: hex, bytes: 32}}\n")
    (tmp_path / "roster.csv").write_text("name,email,role\nJordan Lee,jordan@aurora.test,reviewer\n")
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env["VAULT_TOKEN"] = vault.token
    streams: list[tuple[str, str]] = []

    def cli(*args: str, expect: int = 0) -> str:
        proc = subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)
        streams.append((" ".join(args[:2]), proc.stdout + proc.stderr))
        assert proc.returncode == expect, f"{args[0]}: exit {proc.returncode}: {proc.stderr[-2000:]}"
        return proc.stdout

    for fmt in ("json", "sarif", "markdown", "text"):
        cli("scan", str(origin), "--format", fmt, expect=1)
        cli("scan", str(origin), "--format", fmt, "-o", f"findings.{fmt}", expect=1)
        assert _mode(tmp_path / f"findings.{fmt}") == 0o600
    cli("plan", "findings.json", "-o", "plan.json")
    cli("rewrite", "plan.json", "--workdir", str(workdir))
    cli("notify", "--workdir", str(workdir), "--roster", "roster.csv", "--deadline", "2026-12-01")
    cli("status", "--workdir", str(workdir))
    cli("push", "--workdir", str(workdir), "--remote", str(origin), "--allow-unsigned", expect=3)
    digest = re.search(r'"digest": "([0-9a-f]{64})"', (tmp_path / "plan.json").read_text()).group(1)
    cli("approve", "--workdir", str(workdir), "--approver", "Dana Reyes", "--digest", digest)
    cli("status", "--workdir", str(workdir), "--format", "json")
    cli("push", "--workdir", str(workdir), "--remote", str(origin), "--allow-unsigned", "--dry-run")
    cli("push", "--workdir", str(workdir), "--remote", str(origin), "--allow-unsigned", "--gc-remote")
    cli("verify", "--workdir", str(workdir), "--remote", str(origin))
    cli("guard", "install", "--workdir", str(workdir), "--remote", str(origin))
    # Exit 1: the history exposes many credentials rotation.yml does not hold; they are listed still live
    # (by finding name and provider step, never by value).
    cli("rotate", "--config", "rotation.yml", "--findings", "findings.json", "--dry-run",
        "--audit-log", str(workdir / "rotation-audit.log"), expect=1)
    cli("rotate", "--config", "rotation.yml", "--findings", "findings.json",
        "--audit-log", str(workdir / "rotation-audit.log"), expect=1)

    rotated = vault.client.secrets.kv.v2.read_secret_version(path="aurora/app", mount_point="secret",
                                                             raise_on_deleted_version=True)["data"]["data"]
    assert rotated["JWT_SECRET"] != jwt
    needles = [v.encode() for v in secret_needles(demo_repo) | {rotated["JWT_SECRET"]}]

    for what, text in streams:
        data = text.encode()
        assert not any(n in data for n in needles), f"a secret reached the output of {what}"
    written = [f for f in tmp_path.rglob("*") if f.is_file()
               and not {"origin.git", "demo", "mirror.git", "openbao"} & set(f.relative_to(tmp_path).parts)]
    assert any(f.name == "audit.log" for f in written) and any(f.suffix == ".eml" for f in written)
    for f in written:
        if f.name in SECRET_BEARING:
            assert _mode(f) == 0o600, f
            continue
        data = f.read_bytes()
        assert not any(n in data for n in needles), f"a secret was written to {f.relative_to(tmp_path)}"
    assert _mode(workdir) == 0o700
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=origin,
                             capture_output=True, check=True).stdout
    leaked_on_remote = [p.rule for p in demo_repo.planted if p.value.encode() in objects]
    assert leaked_on_remote == []
