"""The git runner: every subprocess call to git goes through here.

The environment is fixed (no pager, no prompts, no user config surprises,
``LC_ALL=C``) and ``shell=True`` is never used. Errors become
:class:`GitError` with the git subcommand and git's own first line; callers
must not put secret values on a git command line.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from sanitize.errors import GitError
from sanitize.git.location import Location, redact_url

Arg = str | Location  # a Location reaches git without its credentials on the command line

GIT = "git"


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every git child: deterministic, never interactive."""
    env = dict(os.environ)
    env.update(
        {
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_EDITOR": "true",
        }
    )
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    if extra:
        env.update(extra)
    return env


def _describe(args: Sequence[Arg]) -> str:
    # Name the subcommand, not its arguments: arguments may hold URLs with credentials.
    sub = next((a for a in args if isinstance(a, str) and not a.startswith("-")), "?")
    return f"git {sub}"


def _command(args: Sequence[Arg], env: Mapping[str, str] | None) -> tuple[list[str], dict[str, str]]:
    """argv and environment: each Location becomes its address without credentials, which go by helper."""
    full = git_env(env)
    argv = [GIT]
    for a in args:
        if isinstance(a, Location):
            argv.append(a.argument())
            a.add_credentials(full)
        else:
            argv.append(a)
    return argv, full


def run(
    args: Sequence[Arg],
    *,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` and return the completed process (stdout/stderr as bytes)."""
    argv, full_env = _command(args, env)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if check and proc.returncode != 0:
        hints = [a.hint for a in args if isinstance(a, Location) and a.hint]
        why = reason(proc.stderr, proc.returncode)
        raise GitError(f"{_describe(args)} failed: {why}" + "".join(f"; {h}" for h in hints))
    return proc


def reason(stderr: bytes, code: int) -> str:
    """git's reason for a failure: the last line it wrote on stderr (a URL in it redacted), else the exit code."""
    written = [line for line in lines(stderr.decode("utf-8", "replace").strip()) if line.strip()]
    return redact_url(written[-1].strip()) if written else f"exit {code}"


def lines(text: str) -> list[str]:
    """Git's output split on newlines only: ``str.splitlines`` also splits on U+0085/U+2028/U+2029,
    which a ref name, a path or an identity may hold."""
    return text.split("\n")[:-1] if text.endswith("\n") else (text.split("\n") if text else [])


def out(args: Sequence[Arg], *, cwd: str | os.PathLike[str] | None = None, **kw: object) -> str:
    """Run git and return stdout as text, stripped of the trailing newline."""
    proc = run(args, cwd=cwd, **kw)  # type: ignore[arg-type]
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def popen(
    args: Sequence[Arg],
    *,
    cwd: str | os.PathLike[str] | None = None,
    stdin: int | None = None,
    stdout: int | None = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start git for streaming (``cat-file --batch`` and friends)."""
    argv, full_env = _command(args, env)
    return subprocess.Popen(argv, cwd=cwd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=full_env)


def finish(proc: subprocess.Popen[bytes], failure: str) -> None:
    """End a streaming git (from :func:`popen`, its output read to the end): wait for it, and raise
    GitError (``failure``, then git's last line) if it failed."""
    if proc.stdout is not None:
        proc.stdout.close()
    err = proc.stderr.read() if proc.stderr else b""
    code = proc.wait()
    if code != 0:
        raise GitError(f"{failure}: {reason(err, code)}")


def run_program(argv: Sequence[str], *, timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run another program that drives git itself (gitleaks over a mirror, git on a server over ssh)
    with git's fixed environment; GitError if it cannot be started or runs past ``timeout``."""
    try:
        return subprocess.run(list(argv), capture_output=True, env=git_env(), check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"{Path(argv[0]).name} could not run ({type(exc).__name__})") from exc


def git_dir(path: str | os.PathLike[str]) -> Path:
    """The git directory of a repository path (bare or work tree); GitError if none."""
    p = Path(path)
    if not p.exists():
        raise GitError(f"{p}: no such file or directory")
    if not p.is_dir():
        raise GitError(f"{p}: not a git repository (a file, not a directory)")
    proc = run(["rev-parse", "--absolute-git-dir"], cwd=p, check=False)
    if proc.returncode != 0:
        raise GitError(f"{p}: not a git repository")
    return Path(proc.stdout.decode().strip())


def work_tree_of(path: str | os.PathLike[str]) -> Path | None:
    """The top of the work tree ``path`` lies in, or None outside any work tree."""
    p = Path(path)
    proc = run(["rev-parse", "--show-toplevel"], cwd=p if p.is_dir() else p.parent, check=False)
    return Path(proc.stdout.decode("utf-8", "surrogateescape").strip()) if proc.returncode == 0 else None


def is_shallow(repo: str | os.PathLike[str]) -> bool:
    """True for a shallow clone (its history is incomplete)."""
    return out(["rev-parse", "--is-shallow-repository"], cwd=repo) == "true"


def is_partial(repo: str | os.PathLike[str]) -> bool:
    """True for a partial clone (``--filter``): some objects live only on a promisor remote."""
    proc = run(["config", "--get-regexp", r"^(extensions\.partialclone|remote\..*\.promisor)$"], cwd=repo,
               check=False)
    return any(line.split(" ", 1)[-1].strip() not in ("false", "") for line in
               proc.stdout.decode("utf-8", "replace").splitlines())
