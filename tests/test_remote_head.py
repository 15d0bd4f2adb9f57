"""A token as the remote's default branch: the branch the remote's HEAD names.

A push renames the branch, but it cannot move the remote's HEAD and receive-pack refuses to delete
the branch HEAD names. A bare repository on a path is moved by the push itself; on a network remote
nothing is pushed and the operator gets the exact step; verify checks the HEAD a fresh clone gets.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

from sanitize import git
from sanitize.faults import FAULT_ENV
from sanitize.workdir import Workdir
from tests.plugins.git_daemon import GitDaemon

IDENT = {"GIT_AUTHOR_NAME": "Ana Ops", "GIT_AUTHOR_EMAIL": "ana@aurora.test",
         "GIT_COMMITTER_NAME": "Ana Ops", "GIT_COMMITTER_EMAIL": "ana@aurora.test"}


def _token(seed: int) -> str:
    rng = random.Random(seed)
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **IDENT}, check=True, capture_output=True,
                          text=True).stdout.strip()


def _origin(base: Path, token: str, dest: Path) -> Path:
    """A remote whose default branch is named with the token (and a main branch beside it)."""
    src = base / "src"
    src.mkdir()
    _git(src, "init", "-q", "-b", f"release/{token}")
    (src / "app.txt").write_text("v1\n")
    _git(src, "add", "app.txt")
    _git(src, "commit", "-q", "-m", "init")
    _git(src, "branch", "main")
    subprocess.run(["git", "clone", "-q", "--mirror", "--no-local", str(src), str(dest)], check=True)
    assert _git(dest, "symbolic-ref", "HEAD") == f"refs/heads/release/{token}"
    return dest


class Cli:
    """The CLI as an operator runs it; every stream kept for the leak check."""

    def __init__(self, cwd: Path) -> None:
        self.cwd, self.streams = cwd, []  # type: ignore[var-annotated]
        self.env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}

    def __call__(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                              env=self.env, cwd=self.cwd, timeout=300)
        self.streams.append(proc.stdout + proc.stderr)
        if expect is not None:
            assert proc.returncode == expect, f"{args[0]}: exit {proc.returncode}: {proc.stderr[-1500:]}"
        return proc

    def purge_until_push(self, source: str, remote: str) -> None:
        self("scan", source, "-o", "findings.json", expect=1)
        self("plan", "findings.json", "-o", "plan.json")
        self("rewrite", "plan.json", "--workdir", "wd")
        self("notify", "--workdir", "wd", "--deadline", "2026-12-24")
        digest = json.loads((self.cwd / "plan.json").read_text())["digest"]
        # Unsigned approvals count, as a playbook with approvals: {unsigned: true} records it.
        Workdir.open(self.cwd / "wd").set_meta(approval_policy={"allowed_signers": None, "unsigned": True})
        self("approve", "--workdir", "wd", "--approver", "Dana Reyes", "--digest", digest)


def _no_token(token: str, cli: Cli, *dirs: Path) -> None:
    for text in cli.streams:
        assert token not in text
    for d in dirs:
        for f in d.rglob("*"):
            if f.is_file() and f.name not in {"plan.secrets", "backup.bundle"} and "objects" not in f.parts:
                assert token.encode() not in f.read_bytes(), f


def test_a_bare_remote_s_head_follows_its_renamed_default_branch(tmp_path: Path) -> None:
    token = _token(1)
    origin = _origin(tmp_path, token, tmp_path / "origin.git")
    cli = Cli(tmp_path)
    cli.purge_until_push(str(origin), str(origin))
    dry = cli("push", "--workdir", "wd", "--remote", str(origin), "--allow-unsigned", "--dry-run")
    assert "would be refused" not in dry.stderr
    # A relative --remote is the operator's path (the push itself runs git inside the mirror).
    pushed = cli("push", "--workdir", "wd", "--remote", "origin.git", "--allow-unsigned")
    assert "the remote's HEAD named refs/heads/release/[redacted:" in pushed.stdout
    head = _git(origin, "symbolic-ref", "HEAD")
    assert re.fullmatch(r"refs/heads/release/redacted-[0-9a-f]{12}", head) and head in git.refs(origin)
    assert not any(token in r for r in git.refs(origin))
    cli("verify", "--workdir", "wd", "--remote", str(origin))
    # A fresh clone checks out the renamed default branch.
    clone = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert _git(clone, "symbolic-ref", "HEAD") == head
    audit = (tmp_path / "wd" / "audit.log").read_text()
    assert "remote-head-moved" in audit
    _no_token(token, cli, tmp_path / "wd")


def test_a_refused_push_puts_the_bare_remote_s_head_back_and_names_the_ref(tmp_path: Path) -> None:
    token = _token(2)
    origin = _origin(tmp_path, token, tmp_path / "origin.git")
    _git(origin, "config", "receive.denyDeletes", "true")
    cli = Cli(tmp_path)
    cli.purge_until_push(str(origin), str(origin))
    refused = cli("push", "--workdir", "wd", "--remote", str(origin), "--allow-unsigned", expect=2)
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1, line
    # The rejected ref is named whole (its shown form holds a ':', which the porcelain parser must not split on).
    assert "refuses to delete refs/heads/release/[redacted:" in line and "nothing was pushed" in line, line
    assert _git(origin, "symbolic-ref", "HEAD") == f"refs/heads/release/{token}"  # put back: the remote is unchanged
    assert set(git.refs(origin)) == {"refs/heads/main", f"refs/heads/release/{token}"}
    _no_token(token, cli, tmp_path / "wd")


def test_a_network_remote_s_head_is_an_operator_step_and_verify_checks_it(tmp_path: Path,
                                                                          git_daemon: GitDaemon) -> None:
    token = _token(3)
    served = _origin(tmp_path, token, git_daemon.base / "origin.git")
    url = git_daemon.url("origin.git")
    before = git.refs(served)
    cli = Cli(tmp_path)
    cli.purge_until_push(url, url)
    dry = cli("push", "--workdir", "wd", "--remote", url, "--allow-unsigned", "--dry-run")
    assert "would be refused" in dry.stderr and "default branch" in dry.stderr
    refused = cli("push", "--workdir", "wd", "--remote", url, "--allow-unsigned", expect=2)
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert "refs/heads/release/[redacted:" in line and "nothing was pushed" in line
    step = re.search(r"git symbolic-ref HEAD (\S+) in the repository", line)
    assert step and re.fullmatch(r"refs/heads/release/redacted-[0-9a-f]{12}", step.group(1)), line
    assert git.refs(served) == before  # nothing moved
    status = json.loads(cli("status", "--workdir", "wd", "--format", "json").stdout)
    assert status["stages"]["push"]["status"] == "failed"
    assert "default branch" in status["stages"]["push"]["operator_step"]
    assert status["next"].startswith("push: the remote's HEAD") and step.group(1) in status["next"]

    # The operator does exactly what the line says, on the server; the push then goes through.
    subprocess.run(["git", "symbolic-ref", "HEAD", step.group(1)], cwd=served, check=True)
    cli("push", "--workdir", "wd", "--remote", url, "--allow-unsigned")
    assert _git(served, "symbolic-ref", "HEAD") == step.group(1) and step.group(1) in git.refs(served)
    cli("verify", "--workdir", "wd", "--remote", url)

    # A HEAD put back on the old name (its branch is gone) still hands the value to every clone: not clean.
    subprocess.run(["git", "symbolic-ref", "HEAD", f"refs/heads/release/{token}"], cwd=served, check=True)
    bad = cli("verify", "--workdir", "wd", "--remote", url, expect=1)
    assert "HEAD (its default branch) still names refs/heads/release/[redacted:" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    _no_token(token, cli, tmp_path / "wd")
    shutil.rmtree(tmp_path / "wd" / "mirror.git", ignore_errors=True)
