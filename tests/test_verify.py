"""verify: a fresh clone of the remote equals the rewrite; old commits served by id are reported."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from demo.story_repo import DemoRepo
from sanitize import git
from sanitize.errors import VerificationFailed
from sanitize.purge.approval import ApprovalPolicy, approve
from sanitize.purge.push import push
from sanitize.purge.verify import verify
from tests.plugins.git_daemon import GitDaemon
from tests.plugins.rewritten_workdir import RewrittenWorkdir


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True)


def test_verify_fails_before_the_push(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    proc = cli("verify", "--workdir", str(r.workdir))
    assert proc.returncode == 1
    assert "differ from the rewritten tips" in proc.stderr and "purged blob" in proc.stderr
    assert all(s not in proc.stderr + proc.stdout for s in r.secrets)


def test_successful_push_then_verify_then_gc_proves_old_commits_gone(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    result = verify(r.workdir)
    assert result.clean and not result.mismatched and not result.purged_present
    # A force-push alone leaves the old objects on the server: protocol v2 still serves them by id.
    assert result.still_served == list(r.first_changed_commits)
    proc = cli("push", "--workdir", str(r.workdir), "--gc-remote")
    assert proc.returncode == 0, proc.stderr
    proc = cli("verify", "--workdir", str(r.workdir))
    assert proc.returncode == 0, proc.stderr
    assert "no longer serves the old first-changed commits" in proc.stdout
    for sha in r.first_changed_commits:
        assert git.run(["cat-file", "-e", sha], cwd=r.remote, check=False).returncode != 0


def test_verify_over_git_daemon(rewritten_workdir: RewrittenWorkdir, git_daemon: GitDaemon) -> None:
    r = rewritten_workdir
    served = git_daemon.base / "repo.git"
    git.run(["clone", "-q", "--mirror", str(r.remote), str(served)])
    url = git_daemon.url("repo.git")
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir, remote=url)
    result = verify(r.workdir, remote=url)
    assert result.clean
    assert set(result.old_commits_served) == set(r.first_changed_commits)


def test_verify_fails_while_the_host_keeps_pull_refs_to_old_history(
        rewritten_workdir_with_pulls: RewrittenWorkdir) -> None:
    r = rewritten_workdir_with_pulls
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    with pytest.raises(VerificationFailed, match="refs/pull/1/head"):
        verify(r.workdir)


def test_verify_fails_when_a_ref_was_pushed_back(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    git.run(["push", "-q", str(r.remote), "+refs/heads/main:refs/heads/old-main"], cwd=r.origin)
    with pytest.raises(VerificationFailed, match="refs/heads/old-main"):
        verify(r.workdir)


def test_end_to_end_real_scan_plan_rewrite_then_coordinate(demo_repo: DemoRepo, tmp_path: Path) -> None:
    """scan → plan → rewrite (the real stages) on the demo repository, then notify → approve → push → verify →
    guard, and a collaborator's old clone carrying two local commits across with migrate."""
    from sanitize.collaborator.migrate import migrate
    from sanitize.collaborator.notify import notify
    from sanitize.purge.guard import install_guard
    from sanitize.purge.plan import make_plan
    from sanitize.purge.rewrite import rewrite
    from sanitize.scan.engine import scan_repository

    remote = tmp_path / "remote.git"
    git.run(["clone", "-q", "--mirror", str(demo_repo.path), str(remote)])
    # receive-pack refuses one-level refs such as refs/stash: a real remote never has one.
    git.run(["update-ref", "-d", "refs/stash"], cwd=remote, check=False)
    dev = tmp_path / "dev"
    git.run(["clone", "-q", str(remote), str(dev)])
    git.run(["config", "user.name", "Dev"], cwd=dev)
    git.run(["config", "user.email", "dev@example.invalid"], cwd=dev)
    for n in (1, 2):
        (dev / f"local{n}.txt").write_text(f"local {n}\n")
        git.run(["add", "."], cwd=dev)
        git.run(["commit", "-qm", f"local {n}"], cwd=dev)

    findings = tmp_path / "findings.json"
    findings.write_text(scan_repository(str(remote)).to_json())
    plan = make_plan(str(findings), str(tmp_path / "plan.json"))
    wd = tmp_path / "wd"
    rewrite(str(tmp_path / "plan.json"), str(wd))

    result = notify(wd, deadline="2026-12-01")
    assert {p.email for p in result.collaborators} >= {e for _, e in demo_repo.authors}
    text = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in (wd / "notices").rglob("*") if p.is_file())
    leaked = [p.rule for p in demo_repo.planted if p.value in text]
    assert leaked == []

    approve(wd, approver="Alice", digest=plan.digest)
    push(wd, policy=ApprovalPolicy(unsigned=True))
    verified = verify(wd)
    assert verified.clean
    install_guard(wd, remote)
    old = git.run(["push", "--force", "origin", "HEAD:refs/heads/main"], cwd=dev, check=False)
    assert old.returncode != 0 and b"git-sanitize guard" in old.stderr

    git.run(["fetch", "-q", "--force", "origin", "+refs/heads/*:refs/remotes/origin/*"], cwd=dev)
    moved = migrate(dev, commit_map=str(wd / "notices" / "publish" / "commit-map"))
    assert [(m.branch, m.commits) for m in moved.moved] == [("main", 2)] and moved.checked_purged
    git.run(["push", "-q", "origin", "main"], cwd=dev)
    assert git.out(["rev-parse", "main~2"], cwd=dev) == git.refs(wd / "mirror.git")["refs/heads/main"]


def test_push_gc_and_verify_over_ssh(rewritten_workdir: RewrittenWorkdir, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An ssh remote: git's transport, the remote gc and verify all go through $GIT_SSH. Here that is a
    stand-in that runs the remote command locally (no sshd on the test machine); the git side is real."""
    from sanitize.purge.push import SshRemote, ssh_remote

    assert ssh_remote("ssh://git@example.invalid:2222/srv/repo.git") == SshRemote(
        "git@example.invalid", "/srv/repo.git", "2222")
    assert ssh_remote("git@example.invalid:team/repo.git") == SshRemote("git@example.invalid", "team/repo.git")
    assert ssh_remote("/srv/repo.git") is None and ssh_remote("https://example.invalid/r.git") is None
    fake = tmp_path / "fake-ssh"
    fake.write_text('#!/bin/sh\nwhile [ $# -gt 2 ]; do shift; done\nshift\nexec sh -c "$1"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("GIT_SSH", str(fake))
    monkeypatch.setenv("GIT_SSH_VARIANT", "simple")
    r = rewritten_workdir
    url = f"ssh://localhost{r.remote}"
    approve(r.workdir, approver="Alice", digest=r.digest)
    result = push(r.workdir, remote=url, gc_remote=True)
    assert result.gc_done and git.refs(r.remote) == r.rewritten_tips
    verified = verify(r.workdir, remote=url)
    assert verified.clean and verified.old_commits_served and not verified.still_served


def test_verify_rescan_fails_when_a_planned_value_is_still_served(rewritten_workdir: RewrittenWorkdir,
                                                                  tmp_path: Path) -> None:
    """Tips match and no purged blob is left, yet the value survives in a new file: only the rescan sees it."""
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    clone = tmp_path / "c"
    git.run(["clone", "-q", str(r.remote), str(clone)])
    (clone / "settings.py").write_text(f'DATABASE_URL = "postgresql://app:{r.secrets[1]}@db.internal:5432/app"\n')
    git.run(["add", "settings.py"], cwd=clone)
    git.run(["-c", "user.name=D", "-c", "user.email=d@example.invalid", "commit", "-qm", "settings"], cwd=clone)
    git.run(["push", "-q", "origin", "main"], cwd=clone)
    # Pretend the rewrite had produced exactly this (as if it had missed the value).
    tip = git.out(["rev-parse", "HEAD"], cwd=clone)
    git.run(["fetch", "-q", str(clone), f"+{tip}:refs/heads/main"], cwd=r.workdir / "mirror.git")
    state = json.loads((r.workdir / "state.json").read_text())
    state["stages"]["rewrite"]["rewritten_tips"]["refs/heads/main"] = tip
    (r.workdir / "state.json").write_text(json.dumps(state))
    with pytest.raises(VerificationFailed, match="rescan still finds 1 planned secret") as err:
        verify(r.workdir)
    assert r.secrets[1] not in str(err.value)


def _aws_key_id(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def test_the_second_opinion_sees_only_what_no_unchanged_ref_reaches(tmp_path: Path) -> None:
    """gitleaks over a fresh clone, scoped by moving the unchanged refs aside: a value on an unchanged branch
    is not counted, one on a changed branch is; with nothing unchanged it reads all history."""
    from sanitize.purge import second_opinion
    from sanitize.secret import sha256_hex

    rng = random.Random(1042)
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    who = ["-c", "user.name=T", "-c", "user.email=t@example.invalid"]
    keys = [_aws_key_id(rng), _aws_key_id(rng)]
    (repo / "a.env").write_text(f"AWS_ACCESS_KEY_ID={keys[0]}\n")
    git.run([*who, "add", "."], cwd=repo)
    git.run([*who, "commit", "-qm", "on main"], cwd=repo)
    git.run(["checkout", "-q", "-b", "feature"], cwd=repo)
    (repo / "b.env").write_text(f"AWS_ACCESS_KEY_ID={keys[1]}\n")
    git.run([*who, "add", "."], cwd=repo)
    git.run([*who, "commit", "-qm", "on feature"], cwd=repo)
    planned = {sha256_hex(k) for k in keys}

    def clone(name: str) -> Path:
        c = tmp_path / name
        git.run(["clone", "-q", "--mirror", "--no-local", str(repo), str(c)])
        return c

    everything = second_opinion.on_fresh_clone(clone("all.git"), planned, {})
    assert everything["ran"] and everything["scope"] == "all history"
    assert everything["planned_values_seen"] == 2

    scoped_clone = clone("scoped.git")
    main = {"refs/heads/main": git.refs(scoped_clone)["refs/heads/main"]}
    scoped = second_opinion.on_fresh_clone(scoped_clone, planned, main)
    assert scoped["ran"] and scoped["scope"] == "rewritten commits"
    assert scoped["planned_values_seen"] == 1 and scoped["findings"] == 1

    untouched_clone = clone("untouched.git")
    nothing = second_opinion.on_fresh_clone(untouched_clone, planned, dict(git.refs(untouched_clone)))
    assert nothing == {"tool": "gitleaks", "ran": False, "reason": "no commit was rewritten"}


def test_verify_prints_the_second_opinion(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    proc = cli("verify", "--workdir", str(r.workdir))
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "second opinion:" in x)
    assert "gitleaks finds" in line and "none of the planned values" in line, line
    # Every ref of this fixture was rewritten: no unchanged ref bounds the walk, so it reads all history.
    assert "in all history" in line, line
    state = json.loads((r.workdir / "state.json").read_text())
    assert state["stages"]["verify"]["second_opinion"]["ran"] is True
    assert all(s not in proc.stderr + proc.stdout for s in r.secrets)
