"""Output for people and for machines: a table on a terminal, JSON in a pipe, --quiet and --verbose everywhere.

The terminal is a real pseudo-terminal (``pty``), the rotation runs against
real OpenBao and PostgreSQL, the purge commands against real repositories.
"""

from __future__ import annotations

import json
import os
import pty
import random
import select
import string
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sanitize.cli import cli
from tests.test_rotation_cli import base_env, write_config


def fake(rng: random.Random, n: int = 24) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def on_a_terminal(args: list[str], env: dict[str, str], cwd: Path, term: str = "dumb") -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; return its exit code and what the terminal got."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sanitize.cli", *args], stdin=subprocess.DEVNULL, stdout=child,
                            stderr=child, env={**env, "COLUMNS": "200", "TERM": term}, cwd=cwd)
    os.close(child)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([main], [], [], 240)
        if not ready:
            proc.kill()
            raise AssertionError("the command did not finish")
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def stored(vault, pg, tmp_path: Path) -> tuple[Path, dict[str, str], list[str]]:
    """Two stored secrets (one with a PostgreSQL target) and the values they hold now."""
    rng = random.Random(1414)
    jwt, pw = fake(rng, 40), fake(rng)
    dsn = pg.create_role("table_app", pw)
    kv = vault.client.secrets.kv.v2
    kv.create_or_update_secret(path="tbl/app", secret={"JWT_SECRET": jwt})
    kv.create_or_update_secret(path="tbl/db", secret={"DATABASE_URL": dsn})
    config = write_config(tmp_path, vault.url, [
        {"name": "JWT_SECRET", "path": "tbl/app", "key": "JWT_SECRET", "generate": {"kind": "hex", "bytes": 32}},
        {"name": "DATABASE_URL", "path": "tbl/db", "key": "DATABASE_URL",
         "generate": {"kind": "password", "length": 32},
         "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}},
    ])
    env = base_env(VAULT_TOKEN=vault.token, PG_ADMIN_DSN=pg.admin_dsn)
    return config, env, [jwt, pw, dsn]


@pytest.mark.services
def test_rotate_prints_a_table_on_a_terminal_and_json_lines_in_a_pipe(stored, tmp_path: Path) -> None:
    config, env, old_values = stored
    code, screen = on_a_terminal(["rotate", "--config", str(config)], env, tmp_path)
    assert code == 0, screen
    assert "credential" in screen and "result" in screen
    rows = {line.split()[0]: line for line in screen.splitlines() if line.startswith("  ") and line.split()}
    assert "rotated, proven dead" in rows["DATABASE_URL"]
    assert "rotated, not provable" in rows["JWT_SECRET"]
    assert not any(line.lstrip().startswith("{") for line in screen.splitlines())  # no JSON lines on a terminal
    assert not any(v in screen for v in old_values)

    piped = subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(config)], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert piped.returncode == 0, piped.stderr
    records = [json.loads(line) for line in piped.stdout.splitlines()]
    assert records[-1]["step"] == "summary" and set(records[-1]["rotated"]) == {"JWT_SECRET", "DATABASE_URL"}

    # --format overrides the guess both ways; --verbose adds each step on stderr, never a value.
    forced = subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(config),
                             "--format", "table", "--verbose"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=240, check=False)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("compromised rotation on ") and "DATABASE_URL" in forced.stdout
    assert "DATABASE_URL: promote" in forced.stderr or "DATABASE_URL: " in forced.stderr
    code, screen = on_a_terminal(["rotate", "--config", str(config), "--format", "json"], env, tmp_path)
    assert code == 0 and json.loads(screen.strip().splitlines()[-1])["step"] == "summary"


@pytest.mark.services
def test_rotate_table_names_the_ack_command_while_a_credential_is_still_live(stored, tmp_path: Path) -> None:
    """A leaked provider token no configured secret holds: STILL LIVE, the action, and the exact --ack to run."""
    config, env, _ = stored
    rng = random.Random(99)
    token = "ghp_" + fake(rng, 36)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "deploy.sh").write_text(f"export GITHUB_TOKEN={token}\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm",
                    "deploy"], check=True)
    findings = tmp_path / "findings.json"
    subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(repo), "-o", str(findings)], env=env,
                   check=False, capture_output=True)
    code, screen = on_a_terminal(["rotate", "--config", str(config), "--findings", str(findings)], env, tmp_path)
    assert code == 1, screen
    live = [line for line in screen.splitlines() if "STILL LIVE" in line]
    assert live and "github" in live[0].lower()
    assert f"git-sanitize rotate --config {config} --ack NAME" in " ".join(screen.split())
    assert token not in screen


def _repo_with_a_leak(tmp_path: Path) -> Path:
    rng = random.Random(5)
    repo = tmp_path / "src"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "config.py").write_text(f'AWS_SECRET_ACCESS_KEY = "{fake(rng, 40)}"\n')
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm",
                    "c"], check=True)
    return repo


def test_quiet_and_verbose_are_accepted_by_every_command_before_or_after_its_name() -> None:
    runner = CliRunner()
    commands: list[list[str]] = []
    for name, cmd in cli.commands.items():
        subs = getattr(cmd, "commands", None)
        commands += [[name, sub] for sub in subs] if subs else [[name]]
    for words in commands:
        for flag in ("-q", "--quiet", "-v", "--verbose"):
            result = runner.invoke(cli, [*words, flag, "--help"])
            assert result.exit_code == 0, (words, flag, result.output)
    assert runner.invoke(cli, ["-q", "status", "--help"]).exit_code == 0


def test_quiet_plan_prints_nothing_and_verbose_prints_more(tmp_path: Path) -> None:
    repo = _repo_with_a_leak(tmp_path)
    findings = tmp_path / "findings.json"
    subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(repo), "-o", str(findings)], check=False)
    out = tmp_path / "purge"
    out.mkdir()

    def plan(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sanitize.cli", *flags[:1], "plan", str(findings), "-o",
                               str(out / "plan.json"), *flags[1:]], capture_output=True, text=True, cwd=tmp_path,
                              check=False)

    loud = plan("-v")
    assert loud.returncode == 0 and "plan " in loud.stdout
    quiet = plan("-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    after = plan("-v", "--quiet")  # a flag after the command name counts too
    assert after.returncode == 0 and after.stdout == ""
    bad = subprocess.run([sys.executable, "-m", "sanitize.cli", "-q", "plan", str(tmp_path / "missing.json"), "-o",
                          str(out / "plan.json")], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("git-sanitize: ")  # errors are never quiet


@pytest.mark.services
def test_rotate_quiet_table_prints_nothing_when_all_is_well(stored, tmp_path: Path) -> None:
    """With --quiet and a table a clean run is silent (the exit code says it); JSON in a pipe is data, kept."""
    config, env, _ = stored
    code, screen = on_a_terminal(["rotate", "--config", str(config), "--quiet"], env, tmp_path)
    assert code == 0 and screen == ""
    piped = subprocess.run([sys.executable, "-m", "sanitize.cli", "-q", "rotate", "--config", str(config)], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert piped.returncode == 0 and json.loads(piped.stdout.splitlines()[-1])["step"] == "summary"


def test_long_steps_show_progress_on_a_terminal_and_nothing_extra_in_a_pipe(tmp_path: Path) -> None:
    repo = _repo_with_a_leak(tmp_path)
    findings, plan = tmp_path / "findings.json", tmp_path / "purge" / "plan.json"
    plan.parent.mkdir()
    cli = [sys.executable, "-m", "sanitize.cli"]
    subprocess.run([*cli, "scan", str(repo), "-o", str(findings)], check=False, capture_output=True)
    assert subprocess.run([*cli, "plan", str(findings), "-o", str(plan)], capture_output=True).returncode == 0
    code, screen = on_a_terminal(["rewrite", str(plan), "--workdir", str(tmp_path / "wd1")], dict(os.environ),
                                 tmp_path, term="xterm-256color")
    assert code == 0, screen
    assert "rewriting: mirror clone" in screen and "rewrote " in screen  # the spinner, then the result
    piped = subprocess.run([*cli, "rewrite", str(plan), "--workdir", str(tmp_path / "wd2")], capture_output=True,
                           text=True, check=False)
    assert piped.returncode == 0, piped.stderr
    assert "rewriting: mirror clone" not in piped.stdout + piped.stderr and "\x1b[" not in piped.stdout
