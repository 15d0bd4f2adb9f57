"""Keeping secrets out: the pre-commit framework's hooks, ``scan --staged/--range/--since/--pre-push``, the guard.

Hooks are installed into real repositories with the ``pre-commit`` package and
driven by real ``git commit`` / ``git push``; secrets are generated per run.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sanitize
from sanitize import git
from sanitize.purge.approval import approve
from sanitize.purge.guard import install_guard
from sanitize.purge.push import push
from tests.plugins.rewritten_workdir import RewrittenWorkdir

ROOT = Path(sanitize.__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
EXE = str(Path(sys.executable).parent / "git-sanitize")
IDENT = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
         "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid"}


def aws_key(seed: int) -> str:
    rng = random.Random(seed)
    return "AK" + "IA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def github_token(seed: int) -> str:
    rng = random.Random(seed)
    return "gh" + "p_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(IDENT)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    env["PRE_COMMIT_COLOR"] = "never"
    env.pop("GIT_DIR", None)
    return env


def _git(repo: Path, *args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=240)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stdout}\n{proc.stderr}")
    return proc


def _scan(*args: str, cwd: Path, env: dict[str, str] | None = None,
          stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, input=stdin, timeout=240)


def _local_config() -> dict[str, object]:
    """The shipped hooks as a ``repo: local`` config: same entries and stages, run from this venv.

    (A remote ``repo:`` would make pre-commit clone this repository and build a venv for it;
    ``language: system`` runs the very entry the manifest ships, with the installed console script.)
    """
    hooks = []
    for hook in yaml.safe_load(MANIFEST.read_text()):
        local = dict(hook)
        local["language"] = "system"
        local["entry"] = EXE + local["entry"].removeprefix("git-sanitize")
        local.pop("minimum_pre_commit_version", None)
        hooks.append(local)
    return {"repos": [{"repo": "local", "hooks": hooks}]}


@pytest.fixture
def hooked(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A work tree with both hooks installed by ``pre-commit install``, and its bare remote."""
    env = _env(tmp_path)
    repo, remote = tmp_path / "work", tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote), env=env)
    _git(tmp_path, "init", "-q", "-b", "main", str(repo), env=env)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(_local_config(), sort_keys=False))
    (repo / "README.md").write_text("# service\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "init", env=env)
    _git(repo, "remote", "add", "origin", str(remote), env=env)
    _git(repo, "push", "-q", "origin", "main", env=env)
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "install", "-t", "pre-commit", "-t", "pre-push"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo, remote, env


def test_shipped_manifest_passes_pre_commits_own_schema() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(MANIFEST))}
    assert set(hooks) == {"git-sanitize", "git-sanitize-pre-push"}
    assert hooks["git-sanitize"]["stages"] == ["pre-commit"]
    assert hooks["git-sanitize-pre-push"]["stages"] == ["pre-push"]
    for h in hooks.values():
        assert h["language"] == "python" and h["pass_filenames"] is False and h["always_run"] is True
        assert h["entry"].startswith("git-sanitize scan ")
    assert "--staged" in hooks["git-sanitize"]["entry"]
    assert "--pre-push" in hooks["git-sanitize-pre-push"]["entry"]


def test_local_config_built_from_the_manifest_is_valid(tmp_path: Path) -> None:
    from pre_commit.clientlib import load_config

    cfg = tmp_path / ".pre-commit-config.yaml"
    cfg.write_text(yaml.safe_dump(_local_config()))
    loaded = load_config(str(cfg))
    assert [h["id"] for h in loaded["repos"][0]["hooks"]] == ["git-sanitize", "git-sanitize-pre-push"]


def test_commit_carrying_a_generated_secret_is_refused_and_a_clean_one_passes(hooked) -> None:  # type: ignore[no-untyped-def]
    repo, _remote, env = hooked
    head = _git(repo, "rev-parse", "HEAD", env=env).stdout.strip()
    secret = aws_key(11)
    (repo / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{secret}"\n')
    (repo / "app.py").write_text("print('hello')\n")
    _git(repo, "add", ".", env=env)
    refused = _git(repo, "commit", "-m", "add settings", env=env, check=False)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert "settings.py:1: aws.access-key" in out and "secret(s) in the staged change; commit refused" in out
    assert secret not in out
    assert _git(repo, "rev-parse", "HEAD", env=env).stdout.strip() == head  # nothing was committed

    (repo / "settings.py").write_text('import os\nAWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]\n')
    _git(repo, "add", ".", env=env)
    ok = _git(repo, "commit", "-m", "settings from the environment", env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "git-sanitize (staged change)" in ok.stdout + ok.stderr  # the hook ran, and passed
    assert _git(repo, "rev-parse", "HEAD~1", env=env).stdout.strip() == head


def test_push_of_commits_carrying_a_secret_is_refused(hooked) -> None:  # type: ignore[no-untyped-def]
    repo, remote, env = hooked
    before = git.refs(remote)
    secret = github_token(12)
    (repo / "deploy.sh").write_text(f"export GITHUB_TOKEN={secret}\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "deploy script", "--no-verify", env=env)  # past the pre-commit hook
    (repo / "more.txt").write_text("more\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "more", env=env)

    for target in ("main", "HEAD:refs/heads/feature"):  # an existing branch, then a new one
        refused = _git(repo, "push", "origin", target, env=env, check=False)
        out = refused.stdout + refused.stderr
        assert refused.returncode != 0, out
        assert "deploy.sh:1:" in out and "secret(s) in the commits being pushed" in out
        assert secret not in out
    assert git.refs(remote) == before

    # Rewritten without the secret, the same push goes through.
    _git(repo, "reset", "-q", "--hard", "origin/main", env=env)
    (repo / "deploy.sh").write_text('export GITHUB_TOKEN="$(cat /run/secrets/github)"\n')
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "deploy script", env=env)
    ok = _git(repo, "push", "origin", "main", env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert git.refs(remote)["refs/heads/main"] == _git(repo, "rev-parse", "HEAD", env=env).stdout.strip()


def test_plain_git_pre_push_hook_reads_gits_stdin(tmp_path: Path) -> None:
    env = _env(tmp_path)
    repo, remote = tmp_path / "work", tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote), env=env)
    _git(tmp_path, "init", "-q", "-b", "main", str(repo), env=env)
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\nexec {EXE} scan --pre-push --format text\n")
    hook.chmod(0o755)
    (repo / "a.txt").write_text("a\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "a", env=env)
    assert _git(repo, "push", "-q", str(remote), "main", env=env, check=False).returncode == 0
    secret = aws_key(13)
    (repo / "b.ini").write_text(f"[aws]\nkey = {secret}\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "b", env=env)
    refused = _git(repo, "push", str(remote), "main", env=env, check=False)
    assert refused.returncode != 0 and "b.ini:2: aws.access-key" in refused.stdout + refused.stderr
    assert secret not in refused.stdout + refused.stderr
    # Deleting a branch sends nothing: nothing to scan, the push goes through.
    _git(repo, "push", "-q", "--no-verify", str(remote), "main:refs/heads/tmp", env=env)
    assert _git(repo, "push", "-q", str(remote), ":refs/heads/tmp", env=env, check=False).returncode == 0


def _two_leaks(tmp_path: Path) -> tuple[Path, str, str, str, str]:
    env = _env(tmp_path)
    repo = tmp_path / "r"
    _git(tmp_path, "init", "-q", "-b", "main", str(repo), env=env)
    old, new = aws_key(21), github_token(22)
    (repo / "old.env.sample").write_text(f"AWS_ACCESS_KEY_ID={old}\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "old", env=env)
    first = _git(repo, "rev-parse", "HEAD", env=env).stdout.strip()
    (repo / "ci.sh").write_text(f"TOKEN={new}\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "new", env=env)
    second = _git(repo, "rev-parse", "HEAD", env=env).stdout.strip()
    return repo, first, second, old, new


def _hashes(stdout: str) -> set[str]:
    return {f["secret_sha256"] for f in json.loads(stdout)["findings"]}


def test_range_and_since_scan_only_what_the_commits_add(tmp_path: Path) -> None:
    from sanitize.secret import sha256_hex

    repo, first, second, old, new = _two_leaks(tmp_path)
    full = _scan("--format", "json", cwd=repo)
    assert full.returncode == 1 and _hashes(full.stdout) == {sha256_hex(old), sha256_hex(new)}
    for args in (["--range", f"{first}..{second}"], ["--range", "HEAD~1..main"], ["--since", "HEAD~1"]):
        proc = _scan("--format", "json", *args, cwd=repo)
        assert proc.returncode == 1, proc.stderr
        assert _hashes(proc.stdout) == {sha256_hex(new)}, args
        doc = json.loads(proc.stdout)
        assert doc["stats"]["commits"] == 1
        assert all(f["commit"] == second for f in doc["findings"])
        assert old not in proc.stdout + proc.stderr and new not in proc.stdout + proc.stderr
    assert _scan("--since", "HEAD", cwd=repo).returncode == 0  # nothing after HEAD


def test_staged_scan_honours_the_baseline(tmp_path: Path) -> None:
    env = _env(tmp_path)
    repo = tmp_path / "r"
    _git(tmp_path, "init", "-q", "-b", "main", str(repo), env=env)
    secret = aws_key(31)
    (repo / "conf.py").write_text(f"KEY = '{secret}'\n")
    _git(repo, "add", ".", env=env)  # no commit yet: everything staged is new
    baseline = tmp_path / "baseline.json"
    first = _scan("--staged", "-o", str(baseline), cwd=repo)
    assert first.returncode == 1 and "1 secret(s) in the staged change" in first.stderr
    assert secret not in baseline.read_text() + first.stderr
    again = _scan("--staged", "--baseline", str(baseline), "--format", "text", cwd=repo)
    assert again.returncode == 0, again.stderr
    # A second, new secret is still refused with that baseline.
    (repo / "conf2.py").write_text(f"KEY = '{aws_key(32)}'\n")
    _git(repo, "add", ".", env=env)
    assert _scan("--staged", "--baseline", str(baseline), cwd=repo).returncode == 1


@pytest.mark.parametrize("args, fragment", [
    (["--range", "nope"], "expected A..B"),
    (["--range", "HEAD..no-such-branch"], "no such commit"),
    (["--range", "--all..HEAD"], "is not a revision"),
    (["--since", "-x"], "is not a revision"),
    (["--staged", "--since", "HEAD"], "cannot be combined"),
])
def test_bad_range_options_are_one_line_and_exit_2(tmp_path: Path, args: list[str], fragment: str) -> None:
    repo, *_ = _two_leaks(tmp_path)
    proc = _scan(*args, cwd=repo)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("git-sanitize: ") and fragment in lines[0], proc.stderr


def test_staged_on_a_bare_repository_is_bad_input(tmp_path: Path) -> None:
    bare = tmp_path / "b.git"
    git.run(["init", "-q", "--bare", str(bare)])
    proc = _scan(str(bare), "--staged", cwd=tmp_path)
    assert proc.returncode == 2 and "--staged needs a work tree" in proc.stderr


def test_guard_rejects_new_content_with_a_secret(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    install_guard(r.workdir, r.remote)
    env = _env(tmp_path)
    env.pop("PYTHONPATH")  # the hook finds the package that installed it on its own
    fresh = tmp_path / "fresh"
    _git(tmp_path, "clone", "-q", str(r.remote), str(fresh), env=env)
    before = git.refs(r.remote)
    secret = github_token(41)
    (fresh / "notes.md").write_text(f"token for the bot: {secret}\n")
    _git(fresh, "add", ".", env=env)
    _git(fresh, "commit", "-qm", "notes", env=env)
    refused = _git(fresh, "push", "origin", "HEAD:refs/heads/notes", env=env, check=False)
    assert refused.returncode != 0
    assert "git-sanitize guard: rejected refs/heads/notes: 1 secret(s) in new content" in refused.stderr
    assert "notes.md:1:" in refused.stderr and secret not in refused.stderr + refused.stdout
    assert git.refs(r.remote) == before
    # The value in a commit message is new content too.
    _git(fresh, "reset", "-q", "--hard", "origin/main", env=env)
    (fresh / "notes.md").write_text("no token here\n")
    _git(fresh, "add", ".", env=env)
    _git(fresh, "commit", "-qm", f"rotate bot token {secret}", env=env)
    assert _git(fresh, "push", "origin", "main", env=env, check=False).returncode != 0
    assert git.refs(r.remote) == before
    # Clean work goes through.
    _git(fresh, "commit", "-q", "--amend", "-m", "notes", env=env)
    ok = _git(fresh, "push", "origin", "main", env=env, check=False)
    assert ok.returncode == 0, ok.stderr
