"""`run PLAYBOOK --check`: the whole playbook validated before stage 1, with nothing changed.

A typo in the rotation config, a missing roster or a broken notice template
must stop the purge before the scan, not after the force-push. Real bare
remotes, a real `git daemon`, a real OpenBao and real SSH keys.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.collaborator.notice_check import check_templates
from sanitize.collaborator.notify import _environment
from sanitize.playbook import config as playbook_config
from sanitize.playbook import preflight


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          env=env or dict(os.environ), cwd=cwd, timeout=120)


def _origin(tmp: Path) -> Path:
    """A bare remote with one commit on main, built with real git."""
    work = tmp / "author"
    git.run(["init", "-q", "-b", "main", str(work)])
    (work / "app.py").write_text("print('hello')\n")
    git.run(["add", "app.py"], cwd=work)
    git.run(["-c", "user.name=Ann", "-c", "user.email=ann@team.test", "commit", "-q", "-m", "app"], cwd=work)
    origin = tmp / "origin.git"
    git.run(["init", "-q", "--bare", str(origin)])
    git.run(["push", "-q", str(origin), "main"], cwd=work)
    return origin


def _fake_token(seed: int) -> str:
    rng = random.Random(seed)
    return "tok-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(28))


def _rotation(tmp: Path, url: str, token_env: str = "GS_CHECK_TOKEN") -> Path:
    cfg = tmp / "rotation.yml"
    cfg.write_text(f'backend: {{type: vault, url: "{url}", token_env: {token_env}, mount: secret}}\n'
                   "secrets:\n"
                   "  - {name: JWT_SECRET, path: app, key: JWT_SECRET, generate: {kind: hex, bytes: 32}}\n"
                   "  - {name: DB, path: app, key: DB, target: {type: postgres, admin_dsn_env: GS_CHECK_ADMIN_DSN}}\n")
    return cfg


def _playbook(tmp: Path, extra: str = "", approvals: str = "{required: 1, unsigned: true}") -> Path:
    pb = tmp / "purge.yml"
    pb.write_text(f"source: ./origin.git\nworkdir: ./wd\napprovals: {approvals}\n{extra}")
    return pb


def test_check_names_every_problem_with_its_fix_and_changes_nothing(tmp_path: Path) -> None:
    origin = _origin(tmp_path)
    before = git.refs(origin)
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "notice.md.j2").write_text("Hello {{ person.name }}, reset by {{ deadlnie }}\n")
    _rotation(tmp_path, "http://127.0.0.1:1")
    pb = _playbook(tmp_path, 'notify: {roster: roster.csv, templates: tpl, deadline: "2099-01-01"}\n'
                             "rules: rules.yml\nrotate: rotaton.yml\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GS_CHECK_")}

    proc = _cli("run", str(pb), "--check", env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"ok       source: {origin} reachable, 1 ref(s)" in out
    assert f"PROBLEM  roster: {tmp_path / 'roster.csv'}: no such file; fix 'notify.roster'" in out
    assert f"PROBLEM  rules: {tmp_path / 'rules.yml'}: no such rules file" in out
    assert "PROBLEM  templates:" in out and "uses deadlnie, which notices do not get" in out
    assert "PROBLEM  rotate:" in out and "rotaton.yml" in out
    assert "4 of" in proc.stderr and "nothing was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "wd").exists(), "--check creates no workdir"
    assert git.refs(origin) == before

    # A plain run refuses before stage 1 with one line: the first problem and how to see the rest.
    run = _cli("run", str(pb), env=env)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "nothing was started" in run.stderr, run.stderr
    assert "--check" in run.stderr and "roster" not in run.stdout
    assert not (tmp_path / "wd").exists()
    assert git.refs(origin) == before


def test_rotation_env_vars_are_named_never_shown(tmp_path: Path, vault) -> None:
    _origin(tmp_path)
    _rotation(tmp_path, vault.url)
    pb = _playbook(tmp_path, "rotate: rotation.yml\n")
    dsn_password = _fake_token(11)
    token = vault.client.auth.token.create(policies=["root"])["auth"]["client_token"]  # not a word in any path
    env = {**os.environ, "GS_CHECK_TOKEN": token}
    env.pop("GS_CHECK_ADMIN_DSN", None)

    missing = _cli("run", str(pb), "--check", env=env)
    assert missing.returncode == 2
    assert ("PROBLEM  rotate: environment variable GS_CHECK_ADMIN_DSN (named by "
            f"{tmp_path / 'rotation.yml'}) is not set; export it before the run") in missing.stdout
    assert "GS_CHECK_TOKEN" not in missing.stdout.split("PROBLEM", 1)[-1].split("\n")[0]

    env["GS_CHECK_ADMIN_DSN"] = f"postgresql://admin:{dsn_password}@127.0.0.1:1/postgres"
    good = _cli("run", str(pb), "--check", env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "environment variables set: GS_CHECK_ADMIN_DSN, GS_CHECK_TOKEN" in good.stdout
    assert f"Vault at {vault.url} answers and accepts the token in GS_CHECK_TOKEN" in good.stdout
    assert "checks passed" in good.stdout
    for text in (good.stdout, good.stderr, missing.stdout, missing.stderr):
        assert dsn_password not in text and token not in text
    assert not (tmp_path / "wd").exists()

    env["GS_CHECK_TOKEN"] = _fake_token(12)
    refused = _cli("run", str(pb), "--check", env=env)
    assert refused.returncode == 2
    assert "refuses the token in GS_CHECK_TOKEN; export a valid token" in refused.stdout
    assert env["GS_CHECK_TOKEN"] not in refused.stdout + refused.stderr


def test_allowed_signers_must_name_enough_approvers(tmp_path: Path) -> None:
    _origin(tmp_path)
    key = tmp_path / "dana"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dana", "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text("dana@team.test " + key.with_suffix(".pub").read_text().split(" dana")[0] + "\n")

    two = playbook_config.load(_playbook(tmp_path, approvals="{required: 2, allowed_signers: allowed_signers}"))
    lines = [c.line() for c in preflight.check_playbook(two) if c.name == "approvals"]
    assert lines == [f"PROBLEM  approvals: allowed_signers {signers} names 1 approver(s), the playbook needs 2: add "
                     "their keys or lower 'approvals.required'"]
    one = playbook_config.load(_playbook(tmp_path, approvals="{required: 1, allowed_signers: allowed_signers}"))
    assert [c.status for c in preflight.check_playbook(one) if c.name == "approvals"] == ["ok"]

    signers.write_text("dana@team.test ssh-ed25519 not-base64!\n")
    broken = [c for c in preflight.check_playbook(one) if c.name == "approvals"]
    assert broken[0].failed and f"{signers}:1: not PRINCIPAL KEYTYPE BASE64KEY" in broken[0].detail


def test_unreachable_url_source_is_a_problem_and_a_served_one_is_ok(tmp_path: Path, git_daemon) -> None:
    origin = _origin(tmp_path)
    git.run(["clone", "-q", "--bare", str(origin), str(git_daemon.base / "app.git")])
    pb = tmp_path / "url.yml"
    pb.write_text(f"source: {git_daemon.url('app.git')}\nworkdir: ./wd\napprovals: {{unsigned: true}}\n")
    checks = preflight.check_playbook(playbook_config.load(pb))
    assert checks[0].line() == f"ok       source: {git_daemon.url('app.git')} reachable, 1 ref(s)"
    pb.write_text(f"source: {git_daemon.url('typo.git')}\nworkdir: ./wd\napprovals: {{unsigned: true}}\n")
    bad = preflight.check_playbook(playbook_config.load(pb))[0]
    assert bad.failed and "git ls-remote failed" in bad.detail and "check the URL" in bad.detail


def test_a_work_tree_source_names_the_remote_url_to_scan_instead(tmp_path: Path) -> None:
    origin = _origin(tmp_path)
    clone = tmp_path / "clone"
    git.run(["clone", "-q", str(origin), str(clone)])
    pb = tmp_path / "purge.yml"
    pb.write_text("source: ./clone\nworkdir: ./wd\napprovals: {unsigned: true}\n")
    warned = [c for c in preflight.check_playbook(playbook_config.load(pb)) if c.status == "warning"
              and c.name == "source"]
    assert len(warned) == 1 and f"set 'source:' to {origin}" in warned[0].detail


def test_a_workdir_of_another_purge_is_refused(tmp_path: Path) -> None:
    _origin(tmp_path)
    wd = tmp_path / "wd"
    wd.mkdir(mode=0o700)
    (wd / "state.json").write_text('{"schema": "git-sanitize/state/v1", "stages": {}, '
                                   '"meta": {"source": "/elsewhere/other.git"}}')
    checks = preflight.check_playbook(playbook_config.load(_playbook(tmp_path)))
    problem = next(c for c in checks if c.name == "workdir")
    assert problem.failed and "belongs to a purge of /elsewhere/other.git" in problem.detail


def test_the_sample_context_renders_every_built_in_notice() -> None:
    from importlib import resources

    built_in = Path(str(resources.files("sanitize") / "templates" / "notices"))
    problems, used = check_templates(built_in, preflight.NOTICE_TEMPLATES)
    assert problems == [] and used == list(preflight.NOTICE_TEMPLATES)
    assert _environment(None).list_templates() == sorted(preflight.NOTICE_TEMPLATES)


def test_a_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "team-summary.md.j2").write_text("# Team\n{% for p in people %}\n{{ p.name }}\n")
    (tmp_path / "forge-support-request.md.j2").write_text("{{ person.email }}\n")  # not given to this one
    problems, _ = check_templates(tmp_path, preflight.NOTICE_TEMPLATES)
    assert any(p.startswith(f"{tmp_path / 'team-summary.md.j2'}:") and "fix the Jinja syntax" in p for p in problems)
    assert any("forge-support-request.md.j2: uses person" in p for p in problems)


@pytest.mark.parametrize("bad", ["rules: rules.yml\n", "baseline: base.json\n"])
def test_unparseable_rules_or_baseline_is_a_problem(tmp_path: Path, bad: str) -> None:
    _origin(tmp_path)
    (tmp_path / "rules.yml").write_text("rules: [\n")
    (tmp_path / "base.json").write_text("{not json")
    checks = preflight.check_playbook(playbook_config.load(_playbook(tmp_path, bad)))
    failed = preflight.failures(checks)
    assert len(failed) == 1 and failed[0].name == bad.split(":")[0]
