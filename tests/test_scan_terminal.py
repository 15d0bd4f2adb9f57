"""``scan`` at a terminal speaks to a person: what it read, findings grouped by rule and file, what next.

Run under a real pseudo-terminal (stdout and stderr both a tty), as a person would see it.
"""

from __future__ import annotations

import os
import pty
import random
import re
import string
import sys
from pathlib import Path

import pytest

import sanitize
from sanitize import git

ROOT = Path(sanitize.__file__).resolve().parent.parent
IDENT = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_tty(*args: str, cwd: Path) -> tuple[int, str]:
    """Exit code and everything written to the terminal, escape sequences removed."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(cwd)
        env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="160")
        os.execve(sys.executable, [sys.executable, "-m", "sanitize.cli", "scan", *args], env)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")
    return os.waitstatus_to_exitcode(status), text


def key(seed: int) -> str:
    rng = random.Random(seed)
    return "AK" + "IA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(r)])
    for i, name in enumerate(("a/settings.py", "b/deploy.py", "b/more.py")):
        (r / name).parent.mkdir(exist_ok=True)
        (r / name).write_text(f"KEY = '{key(i)}'\n")
    git.run(["add", "."], cwd=r)
    git.run([*IDENT, "commit", "-qm", "keys"], cwd=r)
    return r


def test_findings_get_a_header_groups_and_the_next_command(repo: Path) -> None:
    code, out = on_tty(cwd=repo)
    assert code == 1
    assert f"scanned the history of {repo}: 1 ref(s), 1 commit(s), 3 blob(s)" in out
    assert "3 finding(s), 3 distinct secret(s):" in out
    assert re.search(r"aws\.access-key\s+3\s+AWS access key id: a/settings\.py, b/deploy\.py, b/more\.py", out), out
    assert f"git-sanitize plan {repo.parent / 'repo-purge'}/findings.json -o {repo.parent / 'repo-purge'}/plan.json" \
        in out
    assert not any(key(i) in out for i in range(3))
    assert "a/settings.py:1:" not in out  # the per-finding lines only with -v
    code, out = on_tty("-v", cwd=repo)
    assert code == 1 and "a/settings.py:1: aws.access-key [content, source, high]" in out


def test_clean_says_clean_and_quiet_says_nothing(tmp_path: Path) -> None:
    r = tmp_path / "clean"
    git.run(["init", "-q", "-b", "main", str(r)])
    (r / "README.md").write_text("# nothing here\n")
    git.run(["add", "."], cwd=r)
    git.run([*IDENT, "commit", "-qm", "init"], cwd=r)
    code, out = on_tty(cwd=r)
    assert code == 0 and f"clean: no secrets found; scanned the history of {r}: 1 ref(s), 1 commit(s)" in out
    code, out = on_tty("--quiet", cwd=r)
    assert code == 0 and "clean" not in out and "scanned" not in out


def test_output_file_is_announced_with_the_next_step(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "findings.json"
    code, out = on_tty("-o", str(target), cwd=repo)
    assert code == 1 and f"3 finding(s) written to {target} (json); next: git-sanitize plan {target}" in out
    code, out = on_tty("-o", str(target), "-q", cwd=repo)
    assert code == 1 and "written to" not in out


def test_staged_change_at_a_terminal_says_what_to_do(repo: Path) -> None:
    (repo / "c.py").write_text(f"KEY = '{key(9)}'\n")
    git.run(["add", "c.py"], cwd=repo)
    code, out = on_tty("--staged", cwd=repo)
    assert code == 1 and "scanned the staged change of" in out and "1 finding(s)" in out
    assert "`git add`, commit again" in out and key(9) not in out
