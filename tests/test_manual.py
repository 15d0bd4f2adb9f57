"""The manual page and shell completion, as a user gets them: `man`, `git help sanitize`, bash's TAB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import sanitize
from sanitize.cli import cli
from tests.plugins.installed_wheel import InstalledWheel

ROOT = Path(sanitize.__file__).resolve().parent.parent
needs_man = pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")


def _run(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env, **kw)  # type: ignore[call-overload]


def _commands(group: click.Group, ctx: click.Context, prefix: str = "git-sanitize") -> list[str]:
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            out += _commands(cmd, click.Context(cmd, info_name=name, parent=ctx), f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
    return out


@needs_man
def test_man_page_renders_every_command_and_the_exit_codes(tmp_path: Path) -> None:
    page = tmp_path / "git-sanitize.1"
    proc = _run(sys.executable, "-m", "sanitize.cli", "man", env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr
    page.write_text(proc.stdout)
    shown = _run("man", "-l", str(page), env=dict(os.environ, MANWIDTH="200", MANPAGER="cat"))
    assert shown.returncode == 0 and "warning" not in shown.stderr.lower(), shown.stderr
    text = shown.stdout
    for command in _commands(cli, click.Context(cli, info_name="git-sanitize")):
        assert command in text, command
    for option in ("--staged", "--range", "--since", "--pre-push", "--config", "--baseline"):
        assert option in text
    assert "EXIT STATUS" in text and "waiting for approval" in text


@needs_man
@pytest.mark.timeout(1500)
def test_git_help_sanitize_works_once_installed(installed_wheel: InstalledWheel, tmp_path: Path) -> None:
    # The Dockerfile's install step ran `git-sanitize man --install` into the fresh venv.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MANPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{installed_wheel.bin}{os.pathsep}/usr/bin{os.pathsep}/bin", MANPAGER="cat", GIT_PAGER="cat",
               MANWIDTH="200", HOME=str(tmp_path))
    proc = _run("git", "help", "sanitize", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "GIT-SANITIZE(1)" in proc.stdout and "git-sanitize scan" in proc.stdout


def _bash_complete(words: str, tmp_path: Path) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    script = tmp_path / "complete.bash"
    script.write_text(_run("git-sanitize", "completion", "bash", env=env).stdout)
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    probe = (f"source {script}\nCOMP_WORDS=({words})\n" + ("COMP_WORDS+=('')\n" if words.endswith(" ") else "") +
             f"COMP_CWORD={cword}\n_git_sanitize_completion git-sanitize\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    proc = _run("bash", "--norc", "--noprofile", "-c", probe, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_completion_completes_commands_and_options(tmp_path: Path) -> None:
    assert {"scan", "plan", "rotate", "config"} <= set(_bash_complete("git-sanitize ", tmp_path))
    assert _bash_complete("git-sanitize scan --sta", tmp_path) == ["--staged"]
    assert "show" in _bash_complete("git-sanitize config ", tmp_path)


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_use_the_completion_variable(shell: str) -> None:
    proc = _run(sys.executable, "-m", "sanitize.cli", "completion", shell, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0 and "_GIT_SANITIZE_COMPLETE" in proc.stdout and "git-sanitize" in proc.stdout


def test_unknown_shell_is_usage_error() -> None:
    proc = _run(sys.executable, "-m", "sanitize.cli", "completion", "tcsh", env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
