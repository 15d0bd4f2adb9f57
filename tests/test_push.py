"""push: the approval gate, one atomic leased force-push, and every way a remote can refuse it."""

import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.errors import AwaitingApproval
from sanitize.purge.approval import approve
from sanitize.purge.push import PushRejected, push
from tests.plugins.git_daemon import GitDaemon
from tests.plugins.rewritten_workdir import RewrittenWorkdir


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True)


def commit_on(clone: Path, name: str) -> str:
    (clone / name).write_text("their work\n")
    git.run(["add", name], cwd=clone)
    git.run(["-c", "user.name=Dan", "-c", "user.email=dan@example.invalid", "commit", "-qm", name], cwd=clone)
    return git.out(["rev-parse", "HEAD"], cwd=clone)


def test_push_without_approval_is_refused_and_remote_unchanged(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    proc = cli("push", "--workdir", str(r.workdir))
    assert proc.returncode == 3, proc.stderr
    assert "git-sanitize approve" in proc.stderr and r.digest in proc.stderr
    assert git.refs(r.remote) == r.tips_at_scan


def test_quorum_of_two(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    approve(r.workdir, approver="Alice", digest=r.digest)
    with pytest.raises(AwaitingApproval):
        push(r.workdir, min_approvals=2)
    assert git.refs(r.remote) == r.tips_at_scan
    approve(r.workdir, approver="Bob", digest=r.digest)
    result = push(r.workdir, min_approvals=2)
    assert sorted(result.approvers) == ["alice", "bob"]
    assert git.refs(r.remote) == r.rewritten_tips


def test_dry_run_prints_exact_updates_and_pushes_nothing(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    proc = cli("push", "--workdir", str(r.workdir), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    for ref, new in r.rewritten_tips.items():
        assert f"{ref} {r.tips_at_scan[ref]} -> {new}" in proc.stdout
    assert f"refs/heads/leak {r.tips_at_scan['refs/heads/leak']} -> (delete)" in proc.stdout
    assert git.refs(r.remote) == r.tips_at_scan


def test_dry_run_reads_the_remote_a_missing_one_is_one_line_and_a_moved_ref_is_named(
        rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    missing = cli("push", "--workdir", str(r.workdir), "--dry-run", "--remote", str(tmp_path / "no-such.git"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "cannot read the remote" in missing.stderr
    clone = tmp_path / "dan"
    git.run(["clone", "-q", str(r.remote), str(clone)])
    commit_on(clone, "late.txt")
    git.run(["push", "-q", "origin", "main"], cwd=clone)
    moved = cli("push", "--workdir", str(r.workdir), "--dry-run")
    assert moved.returncode == 0, moved.stderr
    assert "would be refused" in moved.stderr and "refs/heads/main" in moved.stderr


def test_successful_push_updates_every_ref_deletes_removed_ones_and_is_idempotent(
        rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    proc = cli("push", "--workdir", str(r.workdir))
    assert proc.returncode == 0, proc.stderr
    assert git.refs(r.remote) == r.rewritten_tips
    assert "refs/heads/leak" not in git.refs(r.remote)
    again = push(r.workdir)
    assert again.already_pushed


def test_lease_failure_when_someone_pushed_after_the_scan(rewritten_workdir: RewrittenWorkdir,
                                                          tmp_path: Path) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    clone = tmp_path / "dan"
    git.run(["clone", "-q", str(r.remote), str(clone)])
    theirs = commit_on(clone, "late.txt")
    git.run(["push", "-q", "origin", "main"], cwd=clone)
    before = git.refs(r.remote)
    proc = cli("push", "--workdir", str(r.workdir))
    assert proc.returncode == 2
    assert "moved since the scan" in proc.stderr and "refs/heads/main" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    # Atomic: not one ref moved, and their commit survives.
    assert git.refs(r.remote) == before and before["refs/heads/main"] == theirs


def test_protected_branch_refuses_atomically(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    git.run(["config", "receive.denyNonFastForwards", "true"], cwd=r.remote)
    with pytest.raises(PushRejected, match="protected against force-pushes"):
        push(r.workdir)
    assert git.refs(r.remote) == r.tips_at_scan


def test_pre_receive_hook_refusal_changes_nothing(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    hook = r.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'frozen by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PushRejected, match="pre-receive hook refused"):
        push(r.workdir)
    assert git.refs(r.remote) == r.tips_at_scan


def test_hidden_pull_refs_are_left_out_and_listed(rewritten_workdir_with_pulls: RewrittenWorkdir) -> None:
    r = rewritten_workdir_with_pulls
    approve(r.workdir, approver="Alice", digest=r.digest)
    result = push(r.workdir)
    assert result.hidden_refs == ["refs/pull/1/head"]
    after = git.refs(r.remote)
    assert after["refs/pull/1/head"] == r.tips_at_scan["refs/pull/1/head"]
    assert {k: v for k, v in after.items() if not k.startswith("refs/pull/")} == {
        k: v for k, v in r.rewritten_tips.items() if not k.startswith("refs/pull/")}


def test_push_over_git_daemon(rewritten_workdir: RewrittenWorkdir, git_daemon: GitDaemon) -> None:
    r = rewritten_workdir
    served = git_daemon.base / "repo.git"
    git.run(["clone", "-q", "--mirror", str(r.remote), str(served)])
    url = git_daemon.url("repo.git")
    approve(r.workdir, approver="Alice", digest=r.digest)
    dry = push(r.workdir, remote=url, dry_run=True)
    assert {u.ref for u in dry.changed} == {"refs/heads/main", "refs/heads/feature", "refs/tags/v1",
                                            "refs/heads/leak"}
    push(r.workdir, remote=url)
    assert git.refs(served) == r.rewritten_tips


def test_gc_remote_needs_a_path_remote(rewritten_workdir: RewrittenWorkdir, git_daemon: GitDaemon) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    proc = cli("push", "--workdir", str(r.workdir), "--remote", git_daemon.url("nothing.git"), "--gc-remote")
    assert proc.returncode == 2 and "--gc-remote" in proc.stderr
    assert git.refs(r.remote) == r.tips_at_scan


def test_refs_no_push_can_update_are_left_out() -> None:
    from sanitize.purge.push import is_hidden

    assert is_hidden("refs/pull/3/head") and is_hidden("refs/merge-requests/1/head") and is_hidden("refs/stash")
    assert not is_hidden("refs/heads/main") and not is_hidden("refs/tags/v1") and not is_hidden("refs/notes/commits")


def test_lease_failure_over_git_daemon_keeps_their_commit(rewritten_workdir: RewrittenWorkdir,
                                                          git_daemon: GitDaemon, tmp_path: Path) -> None:
    r = rewritten_workdir
    served = git_daemon.base / "repo.git"
    git.run(["clone", "-q", "--mirror", str(r.remote), str(served)])
    url = git_daemon.url("repo.git")
    approve(r.workdir, approver="Alice", digest=r.digest)
    clone = tmp_path / "erin"
    git.run(["clone", "-q", url, str(clone)])
    git.run(["checkout", "-q", "feature"], cwd=clone)
    theirs = commit_on(clone, "late-feature.txt")
    git.run(["push", "-q", "origin", "feature"], cwd=clone)
    before = git.refs(served)
    proc = cli("push", "--workdir", str(r.workdir), "--remote", url)
    assert proc.returncode == 2 and "moved since the scan (refs/heads/feature" in proc.stderr
    assert git.refs(served) == before and before["refs/heads/feature"] == theirs


def test_dry_run_lists_refs_left_for_the_host(rewritten_workdir_with_pulls: RewrittenWorkdir) -> None:
    r = rewritten_workdir_with_pulls
    proc = cli("push", "--workdir", str(r.workdir), "--dry-run")
    assert proc.returncode == 0 and "left out (host-managed, read-only): refs/pull/1/head" in proc.stdout
    updates = [line for line in proc.stdout.splitlines() if "left out" not in line]
    assert not any("refs/pull/" in line for line in updates) and git.refs(r.remote) == r.tips_at_scan


def test_a_password_in_the_remote_url_is_never_shown() -> None:
    from sanitize.git import redact_url

    pw = "pw" + "-" + "x" * 8
    assert redact_url(f"https://bot:{pw}@git.example.invalid:8443/team/repo.git") == \
        "https://***@git.example.invalid:8443/team/repo.git"
    assert redact_url("https://git.example.invalid/r.git") == "https://git.example.invalid/r.git"
    assert redact_url("/srv/git/r.git") == "/srv/git/r.git"


def test_push_with_only_an_expired_approval_is_refused(rewritten_workdir: RewrittenWorkdir) -> None:
    from datetime import UTC, datetime, timedelta

    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest, expires="1h", now=datetime.now(UTC) - timedelta(hours=2))
    proc = cli("push", "--workdir", str(r.workdir))
    assert proc.returncode == 3 and "has 0" in proc.stderr
    assert git.refs(r.remote) == r.tips_at_scan
