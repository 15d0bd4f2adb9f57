"""The re-contamination guard: an old clone pushing its old branch is rejected; clean work goes through."""

import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.errors import UsageError
from sanitize.purge.approval import approve
from sanitize.purge.guard import install_guard
from sanitize.purge.push import push
from tests.plugins.git_daemon import GitDaemon
from tests.plugins.rewritten_workdir import RewrittenWorkdir

IDENT = ["-c", "user.name=Dan", "-c", "user.email=dan@example.invalid"]


def purged_and_guarded(r: RewrittenWorkdir, remote: str | None = None) -> None:
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir, remote=remote)


def test_old_clone_pushing_its_old_branch_is_rejected(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    old_clone = tmp_path / "old"
    git.run(["clone", "-q", str(r.remote), str(old_clone)])
    purged_and_guarded(r)
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "guard", "install", "--workdir", str(r.workdir),
                           "--remote", str(r.remote)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    before = git.refs(r.remote)
    pushed = git.run(["push", "--force", "origin", "main"], cwd=old_clone, check=False)
    assert pushed.returncode != 0
    assert b"git-sanitize guard: rejected refs/heads/main" in pushed.stderr
    # Under another name, with a new commit on top: still rejected.
    (old_clone / "more.txt").write_text("more\n")
    git.run(["add", "more.txt"], cwd=old_clone)
    git.run([*IDENT, "commit", "-qm", "more"], cwd=old_clone)
    assert git.run(["push", "origin", "HEAD:refs/heads/sneaky"], cwd=old_clone, check=False).returncode != 0
    assert git.refs(r.remote) == before


def test_fresh_clone_work_is_accepted(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    purged_and_guarded(r)
    install_guard(r.workdir, r.remote)
    fresh = tmp_path / "fresh"
    git.run(["clone", "-q", str(r.remote), str(fresh)])
    (fresh / "new.txt").write_text("new\n")
    git.run(["add", "new.txt"], cwd=fresh)
    git.run([*IDENT, "commit", "-qm", "new"], cwd=fresh)
    git.run(["push", "-q", "origin", "main"], cwd=fresh)
    assert git.refs(r.remote)["refs/heads/main"] == git.out(["rev-parse", "HEAD"], cwd=fresh)


def test_guard_rejects_over_git_daemon(rewritten_workdir: RewrittenWorkdir, git_daemon: GitDaemon,
                                       tmp_path: Path) -> None:
    r = rewritten_workdir
    served = git_daemon.base / "repo.git"
    git.run(["clone", "-q", "--mirror", str(r.remote), str(served)])
    url = git_daemon.url("repo.git")
    old_clone = tmp_path / "old"
    git.run(["clone", "-q", url, str(old_clone)])
    purged_and_guarded(r, remote=url)
    install_guard(r.workdir, served)
    pushed = git.run(["push", "--force", "origin", "main"], cwd=old_clone, check=False)
    assert pushed.returncode != 0 and b"pre-receive hook declined" in pushed.stderr
    assert git.refs(served) == r.rewritten_tips


def test_guard_refuses_to_replace_a_foreign_hook(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    hook = r.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(UsageError, match="already exists"):
        install_guard(r.workdir, r.remote)
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"


def test_guard_lists_every_purged_blob_and_old_commit(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    hook = install_guard(r.workdir, r.remote)
    banned = set((hook.parent / "sanitize-guard-banned").read_text().split())
    assert set(r.purged_blobs) <= banned and set(r.first_changed_commits) <= banned
    assert install_guard(r.workdir, r.remote) == hook  # re-install over our own hook is fine
    # Fail closed: without its list the hook refuses everything rather than letting anything through.
    (hook.parent / "sanitize-guard-banned").unlink()
    pushed = git.run(["push", str(r.remote), "refs/heads/main:refs/heads/copy"], cwd=r.origin, check=False)
    assert pushed.returncode != 0 and b"is missing" in pushed.stderr


def test_guard_rejects_a_purged_blob_re_added_on_new_history(rewritten_workdir: RewrittenWorkdir,
                                                             tmp_path: Path) -> None:
    r = rewritten_workdir
    purged_and_guarded(r)
    install_guard(r.workdir, r.remote)
    fresh = tmp_path / "fresh"
    git.run(["clone", "-q", str(r.remote), str(fresh)])
    # The same file content as before the purge is the same blob id: the guard knows it.
    (fresh / ".env").write_text(f"API_TOKEN={r.secrets[0]}\n")
    git.run(["add", ".env"], cwd=fresh)
    git.run([*IDENT, "commit", "-qm", "oops"], cwd=fresh)
    pushed = git.run(["push", "origin", "main"], cwd=fresh, check=False)
    assert pushed.returncode != 0 and b"git-sanitize guard: rejected refs/heads/main" in pushed.stderr
    assert r.secrets[0].encode() not in pushed.stderr
    assert git.refs(r.remote)["refs/heads/main"] == r.rewritten_tips["refs/heads/main"]


def test_guard_install_needs_a_bare_repository(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "guard", "install", "--workdir", str(r.workdir),
                           "--remote", str(r.origin)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a bare repository" in proc.stderr and "Traceback" not in proc.stderr
    assert not (r.origin / ".git" / "hooks" / "pre-receive").exists()
