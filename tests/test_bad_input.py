"""Bad input across the commands: one clear line on stderr, exit 2, no traceback, nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git


def _cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert needle in proc.stderr, proc.stderr


def _workdir(tmp_path: Path, state: str) -> Path:
    wd = tmp_path / "wd"
    wd.mkdir(mode=0o700)
    (wd / "state.json").write_text(state)
    return wd


@pytest.mark.parametrize("state", ["{oops", "[]", '{"schema": "something/else", "stages": {}}'])
@pytest.mark.parametrize("command", [["status"], ["push"], ["verify"], ["notify"],
                                     ["approve", "--approver", "x", "--digest", "0" * 64]])
def test_a_corrupt_state_file_is_refused_and_left_as_it_was(tmp_path: Path, state: str, command: list[str]) -> None:
    wd = _workdir(tmp_path, state)
    proc = _cli(command[0], "--workdir", str(wd), *command[1:])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert (wd / "state.json").read_text() == state


def test_a_workdir_open_to_other_users_is_refused(tmp_path: Path) -> None:
    wd = _workdir(tmp_path, '{"schema": "git-sanitize/state/v1", "stages": {}}')
    wd.chmod(0o755)
    _one_line_exit_2(_cli("status", "--workdir", str(wd)), "accessible to other users")


def test_a_partial_clone_is_refused_by_the_scan(tmp_path: Path) -> None:
    src = tmp_path / "src"
    git.run(["init", "-q", str(src)])
    (src / "a.txt").write_text("hello\n")
    git.run(["add", "a.txt"], cwd=src)
    git.run(["commit", "-q", "-m", "a"], cwd=src)
    git.run(["config", "uploadpack.allowFilter", "true"], cwd=src)
    git.run(["clone", "-q", "--filter=blob:none", "--no-local", f"file://{src}", str(tmp_path / "partial")])
    _one_line_exit_2(_cli("scan", str(tmp_path / "partial")), "partial clone")


@pytest.mark.parametrize(("text", "needle"), [
    ("source: [unclosed\n", "malformed YAML"),
    ("source: ./x.git\nworkdir: wd\ncolour: blue\n", "unknown key 'colour'"),
    ("workdir: wd\n", "missing required key 'source'"),
    ("source: ./x.git\nworkdir: wd\napprovals: {required: 0}\n", "approvals.required"),
    ("source: ./x.git\nworkdir: wd\nnotify: {deadline: soon}\n", "notify.deadline"),
])
def test_a_bad_playbook_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "purge.yml"
    p.write_text(text)
    _one_line_exit_2(_cli("run", str(p)), needle)
    assert not (tmp_path / "wd").exists(), "nothing is created for a bad playbook"


def test_run_with_a_missing_source_creates_nothing_it_cannot_use(tmp_path: Path) -> None:
    p = tmp_path / "purge.yml"
    p.write_text("source: ./missing.git\nworkdir: wd\napprovals: {unsigned: true}\n")
    _one_line_exit_2(_cli("run", str(p)), "no such file or directory")
    assert not (tmp_path / "wd").exists()


@pytest.mark.parametrize("findings", ["", "{}", '{"schema": "git-sanitize/findings/v1"}', "\xff\xfe"])
def test_plan_of_a_corrupt_findings_file_is_one_line(tmp_path: Path, findings: str) -> None:
    f = tmp_path / "findings.json"
    f.write_text(findings, encoding="utf-8", errors="surrogateescape")
    proc = _cli("plan", str(f), "-o", str(tmp_path / "plan.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "plan.json").exists()


def test_rotate_with_a_missing_token_variable_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "rotation.yml"
    cfg.write_text('backend: {type: vault, url: "http://127.0.0.1:1", token_env: GS_NO_SUCH_TOKEN, mount: secret}\n'
                   "secrets:\n  - {name: A, path: app, key: A, generate: {kind: hex, bytes: 8}}\n")
    env = {k: v for k, v in os.environ.items() if k != "GS_NO_SUCH_TOKEN"}
    _one_line_exit_2(_cli("rotate", "--config", str(cfg), env=env), "GS_NO_SUCH_TOKEN")


def test_a_rotation_audit_log_that_is_not_ours_is_one_line(tmp_path: Path) -> None:
    """``audit_log: /proc/version`` (a file that is no audit log): refused before anything rotates."""
    cfg = tmp_path / "rotation.yml"
    cfg.write_text('backend: {type: vault, url: "http://127.0.0.1:1", token_env: GS_T, mount: secret}\n'
                   "audit_log: /proc/version\nsecrets:\n  - {name: A, path: app, key: A}\n")
    _one_line_exit_2(_cli("rotate", "--config", str(cfg), env={**os.environ, "GS_T": "x"}), "/proc/version")


@pytest.mark.parametrize(("args", "needle"), [
    (["scan", "/etc/hostname"], "not a git repository"),
    (["plan", "{findings}", "-o", "{tmp}/no/such/dir/plan.json"], "does not exist"),
    (["approve", "--workdir", "{tmp}/wd", "--approver", "x", "--digest", "0" * 64, "--expires", "99999999999d"],
     "at most 30d"),
])
def test_inputs_that_once_gave_tracebacks_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "findings.json").write_text('{"schema": "git-sanitize/findings/v2", "source": "x", "refs": {}, '
                                            '"findings": []}')
    _workdir(tmp_path, '{"schema": "git-sanitize/state/v1", "stages": {"rewrite": {"status": "done", '
                       '"plan_digest": "' + "0" * 64 + '"}}}')
    argv = [a.format(tmp=tmp_path, findings=tmp_path / "findings.json") for a in args]
    _one_line_exit_2(_cli(*argv), needle)
    assert not (tmp_path / "no").exists()


def test_a_playbook_whose_workdir_is_a_file_is_one_line(tmp_path: Path) -> None:
    git.run(["init", "-q", "--bare", str(tmp_path / "x.git")])
    (tmp_path / "wd").write_text("not a directory\n")
    p = tmp_path / "purge.yml"
    p.write_text("source: ./x.git\nworkdir: wd\napprovals: {unsigned: true}\n")
    _one_line_exit_2(_cli("run", str(p)), "not a directory")
    assert (tmp_path / "wd").read_text() == "not a directory\n"


@pytest.mark.services
def test_rotate_naming_a_secret_path_the_store_does_not_have_is_one_line(vault, tmp_path: Path) -> None:
    """A typo in a secret's path is bad input (exit 2), not a failed rotation (exit 1)."""
    cfg = tmp_path / "rotation.yml"
    cfg.write_text(f'backend: {{type: vault, url: "{vault.url}", token_env: GS_T, mount: secret}}\n'
                   "audit_log: audit.log\nlock_dir: locks\n"
                   "secrets:\n  - {name: A, path: no/such/path, key: A, generate: {kind: hex, bytes: 8}}\n")
    proc = _cli("rotate", "--config", str(cfg), cwd=tmp_path, env={**os.environ, "GS_T": vault.token})
    _one_line_exit_2(proc, "no/such/path")
