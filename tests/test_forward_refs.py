"""A collaborator's push on top of the rewritten tips (what the guard lets in) does not block the lead."""

import json
import os
import subprocess
import sys
from pathlib import Path

from sanitize import git
from sanitize.purge.approval import approve
from sanitize.purge.guard import install_guard
from sanitize.purge.push import push
from tests.plugins.rewritten_workdir import RewrittenWorkdir


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


def collaborator(r: RewrittenWorkdir, tmp_path: Path, name: str) -> Path:
    clone = tmp_path / name
    git.run(["clone", "-q", str(r.remote), str(clone)])
    git.run(["config", "user.name", name], cwd=clone)
    git.run(["config", "user.email", f"{name}@example.invalid"], cwd=clone)
    return clone


def commit_in(clone: Path, name: str) -> str:
    (clone / name).write_text(name + "\n")
    git.run(["add", name], cwd=clone)
    git.run(["commit", "-qm", name], cwd=clone)
    return git.out(["rev-parse", "HEAD"], cwd=clone)


def test_pushes_on_top_of_the_rewritten_tips_are_fine_for_gc_verify_and_status(
        rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    install_guard(r.workdir, r.remote)
    dev = collaborator(r, tmp_path, "erin")
    theirs = commit_in(dev, "after-purge.txt")
    git.run(["push", "-q", "origin", "main"], cwd=dev)                  # the guard accepts it
    git.run(["push", "-q", "origin", "HEAD:refs/heads/erin-topic"], cwd=dev)  # a new branch on the new history
    assert git.refs(r.remote)["refs/heads/main"] == theirs

    gc = cli("push", "--workdir", str(r.workdir), "--gc-remote")
    assert gc.returncode == 0, gc.stderr
    assert "already holds the rewritten refs" in gc.stdout and "pruned unreachable objects" in gc.stdout
    assert git.refs(r.remote)["refs/heads/main"] == theirs               # their work is untouched
    for sha in r.first_changed_commits:
        assert git.run(["cat-file", "-e", sha], cwd=r.remote, check=False).returncode != 0

    ver = cli("verify", "--workdir", str(r.workdir))
    assert ver.returncode == 0, ver.stderr
    st = cli("status", "--workdir", str(r.workdir), "--format", "json")
    doc = json.loads(st.stdout)
    assert doc["stages"]["verify"]["status"] == "done" and doc["stages"]["push"]["status"] == "done"
    assert doc["forward_refs"] == ["refs/heads/erin-topic", "refs/heads/main"]


def test_a_ref_moved_anywhere_else_is_still_refused(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    dev = collaborator(r, tmp_path, "frank")
    # Not a descendant: main reset to an earlier rewritten commit, plus a commit there.
    git.run(["reset", "-q", "--hard", "HEAD~1"], cwd=dev)
    commit_in(dev, "sideways.txt")
    git.run(["push", "-q", "--force", "origin", "main"], cwd=dev)
    ver = cli("verify", "--workdir", str(r.workdir))
    assert ver.returncode == 1 and "differ from the rewritten tips (refs/heads/main)" in ver.stderr
    gc = cli("push", "--workdir", str(r.workdir), "--gc-remote")
    assert gc.returncode == 2 and "refs/heads/main" in gc.stderr


def test_old_history_pushed_back_on_top_is_not_forward(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    old_clone = collaborator(r, tmp_path, "gina")                        # made before the push: old history
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    git.run(["fetch", "-q", "origin"], cwd=old_clone)
    # A merge of old into new descends from the rewritten tip but carries old commits back (no guard here).
    git.run(["checkout", "-q", "-B", "mix", "origin/main"], cwd=old_clone)
    git.run(["merge", "-q", "-s", "ours", "--allow-unrelated-histories", "-m", "mix",
             r.tips_at_scan["refs/heads/main"]], cwd=old_clone)
    assert git.run(["merge-base", "--is-ancestor", r.rewritten_tips["refs/heads/main"], "mix"],
                   cwd=old_clone, check=False).returncode == 0
    git.run(["push", "-q", "--force", "origin", "mix:main"], cwd=old_clone)
    ver = cli("verify", "--workdir", str(r.workdir))
    assert ver.returncode == 1 and "refs/heads/main" in ver.stderr
