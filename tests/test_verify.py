"""verify: a fresh clone of the remote equals the rewrite; old commits served by id are reported."""

import subprocess
import sys

import pytest

from sanitize import git
from sanitize.approval import approve
from sanitize.errors import VerificationFailed
from sanitize.push import push
from sanitize.verify import verify
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
    assert result.clean and not result.mismatched and not result.purged_present and result.rescanned
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
