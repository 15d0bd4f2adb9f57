"""Config discovery: a repository's own settings apply to every scan of it, and say where they came from."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.purge.guard import render_hook
from sanitize.secret import sha256_hex

IDENT = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]
RULES_TOML = '[[rules]]\nid = "acme.token"\nregex = "(acme_[a-z0-9]{20})"\nkeywords = ["acme_"]\n'


def acme(seed: int) -> str:
    rng = random.Random(seed)
    return "acme_" + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(20))


def aws_key(seed: int) -> str:
    rng = random.Random(seed)
    return "AK" + "IA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin, timeout=240)


def commit(repo: Path, files: dict[str, str], msg: str = "change") -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git.run(["add", "-A"], cwd=repo)
    git.run([*IDENT, "commit", "-qm", msg], cwd=repo)
    return git.out(["rev-parse", "HEAD"], cwd=repo)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(r)])
    commit(r, {"src/app.py": f"connect({acme(1)})\n", "tests/fixtures/keys.py": f"K = '{aws_key(2)}'\n",
               "deploy/env.py": f"K = '{aws_key(3)}'\n", "ci/rules.toml": RULES_TOML})
    return r


def findings(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {f["path"] for f in json.loads(proc.stdout)["findings"]}


def test_pyproject_table_adds_rules_allowlists_and_sets_the_format(repo: Path) -> None:
    assert findings(cli("scan", "--format", "json", cwd=repo)) == {"tests/fixtures/keys.py", "deploy/env.py"}
    commit(repo, {"pyproject.toml": '[project]\nname = "x"\n\n[tool.git-sanitize]\nrules = "ci/rules.toml"\n'
                                    'format = "json"\n\n[tool.git-sanitize.allowlist]\n'
                                    'paths = ["tests/fixtures/*"]\n'
                                    f'values = ["{sha256_hex(aws_key(3))}"]\n'})
    proc = cli("scan", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert findings(proc) == {"src/app.py"}  # the extra rule fires; both allowlists hold; JSON by config
    shown = json.loads(cli("config", "show", "--format", "json", cwd=repo).stdout)
    origin = str(repo / "pyproject.toml")
    assert shown["file"] == origin
    assert shown["rules"] == {"value": str(repo / "ci" / "rules.toml"), "from": origin}
    assert shown["format"] == {"value": "json", "from": origin}
    assert shown["allowlist.paths"] == {"value": ["tests/fixtures/*"], "from": origin}
    assert shown["baseline"] == {"value": None, "from": "default"}
    text = cli("config", "show", cwd=repo).stdout
    assert f"format            json  [{origin}]" in text and "baseline          (none)  [default]" in text


def test_dot_file_with_a_baseline_and_options_override_it(repo: Path, tmp_path: Path) -> None:
    accepted = tmp_path / "accepted.json"
    assert cli("scan", "-o", str(accepted), cwd=repo).returncode == 1
    commit(repo, {".git-sanitize.toml": f'baseline = "{accepted.name}"\nformat = "text"\n'})
    (repo / accepted.name).write_text(accepted.read_text())
    git.run(["add", accepted.name], cwd=repo)
    git.run([*IDENT, "commit", "-qm", "baseline"], cwd=repo)
    proc = cli("scan", cwd=repo)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr  # all accepted
    # An option beats the file: no baseline from a file outside the repo named on the command line.
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"schema": "git-sanitize/findings/v1", "source": "x", "refs": {}, "findings": []}))
    proc = cli("scan", "--baseline", str(empty), "--format", "json", cwd=repo)
    assert proc.returncode == 1 and findings(proc) == {"tests/fixtures/keys.py", "deploy/env.py"}
    shown = json.loads(cli("config", "show", "--format", "json", cwd=repo).stdout)
    assert shown["baseline"]["from"] == str(repo / ".git-sanitize.toml")


def test_staged_scan_uses_the_same_config(repo: Path) -> None:
    commit(repo, {".git-sanitize.toml": '[allowlist]\npaths = ["tests/fixtures/*"]\n'})
    (repo / "tests" / "fixtures" / "more.py").write_text(f"K = '{aws_key(4)}'\n")
    git.run(["add", "-A"], cwd=repo)
    assert cli("scan", "--staged", cwd=repo).returncode == 0
    (repo / "src" / "more.py").write_text(f"K = '{aws_key(5)}'\n")
    git.run(["add", "-A"], cwd=repo)
    proc = cli("scan", "--staged", "--format", "json", cwd=repo)
    assert proc.returncode == 1 and findings(proc) == {"src/more.py"}


def test_named_config_file_replaces_discovery(repo: Path, tmp_path: Path) -> None:
    commit(repo, {".git-sanitize.toml": '[allowlist]\npaths = ["*"]\n'})
    named = tmp_path / "strict.toml"
    named.write_text(f'rules = "{repo / "ci" / "rules.toml"}"\n')
    proc = cli("scan", "--config", str(named), "--format", "json", cwd=repo)
    assert findings(proc) == {"src/app.py", "tests/fixtures/keys.py", "deploy/env.py"}
    assert json.loads(cli("config", "show", "--config", str(named), "--format", "json",
                          cwd=repo).stdout)["rules"]["from"] == str(named)


def test_bare_repository_reads_heads_tree(repo: Path, tmp_path: Path) -> None:
    commit(repo, {".git-sanitize.toml": 'rules = "ci/rules.toml"\n[allowlist]\npaths = ["deploy/*"]\n'})
    bare = tmp_path / "server.git"
    git.run(["clone", "-q", "--bare", str(repo), str(bare)])
    shown = json.loads(cli("config", "show", str(bare), "--format", "json", cwd=tmp_path).stdout)
    assert shown["file"] == "HEAD:.git-sanitize.toml" and shown["allowlist.paths"]["value"] == ["deploy/*"]
    proc = cli("scan", str(bare), "--format", "json", cwd=tmp_path)
    assert findings(proc) == {"src/app.py", "tests/fixtures/keys.py"}  # HEAD's rules file, HEAD's allowlist


def test_guard_checks_a_push_with_the_servers_settings_not_the_pushers(repo: Path, tmp_path: Path) -> None:
    commit(repo, {".git-sanitize.toml": '[allowlist]\npaths = ["tests/fixtures/*"]\n'})
    bare = tmp_path / "server.git"
    git.run(["clone", "-q", "--bare", str(repo), str(bare)])
    hooks = bare / "hooks"
    (hooks / "sanitize-guard-banned").write_text("")
    (hooks / "pre-receive").write_text(render_hook("0" * 64, 0))
    (hooks / "pre-receive").chmod(0o755)
    git.run(["remote", "add", "server", str(bare)], cwd=repo)
    commit(repo, {"tests/fixtures/new.py": f"K = '{aws_key(6)}'\n"})
    assert git.run(["push", "-q", "server", "main"], cwd=repo, check=False).returncode == 0  # allowlisted there
    # A push that widens the allowlist in the same breath is still checked with the server's HEAD settings.
    commit(repo, {".git-sanitize.toml": '[allowlist]\npaths = ["*"]\n', "src/leak.py": f"K = '{aws_key(7)}'\n"})
    refused = git.run(["push", "server", "main"], cwd=repo, check=False)
    assert refused.returncode != 0 and b"src/leak.py" in refused.stderr
    assert aws_key(7).encode() not in refused.stderr


@pytest.mark.parametrize("text, fragment", [
    ('colour = "red"\n', "unknown key(s) colour; allowed: rules, baseline, format, allowlist"),
    ('[allowlist]\nglobs = ["x"]\n', "unknown key(s) allowlist.globs; allowed: allowlist.paths, allowlist.values"),
    ('format = "html"\n', "format must be one of json, sarif, markdown, text"),
    ('[allowlist]\nvalues = ["hunter2"]\n', "not a hex SHA-256"),
    ('rules = "../outside.toml"\n', "must be a path inside the repository"),
    ('rules = [1]\n', "rules must be a file path"),
    ("format = \n", "not valid TOML"),
])
def test_bad_settings_are_one_line_and_exit_2(repo: Path, text: str, fragment: str) -> None:
    (repo / ".git-sanitize.toml").write_text(text)
    for args in (["scan"], ["config", "show"]):
        proc = cli(*args, cwd=repo)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("git-sanitize: ") and fragment in lines[0], proc.stderr


def test_two_config_files_are_ambiguous(repo: Path) -> None:
    (repo / ".git-sanitize.toml").write_text('format = "text"\n')
    (repo / "pyproject.toml").write_text('[tool.git-sanitize]\nformat = "json"\n')
    proc = cli("config", "show", cwd=repo)
    assert proc.returncode == 2 and "keep one" in proc.stderr
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no table: not a config
    assert "format            text" in cli("config", "show", cwd=repo).stdout
