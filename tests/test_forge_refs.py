"""Forge-only refs only on a forge: on a plain bare remote `refs/pull/*` are ordinary refs.

A forge hides its pull-request refs from pushes (`receive.hideRefs`); receive-pack's own
advertisement says which. A plain bare repository (or `git daemon`) hides nothing, so its
`refs/pull/*` must be pushed and verified like any branch, or old history stays reachable.
"""

from __future__ import annotations

from pathlib import Path

from sanitize import git
from sanitize.git import forge_managed, is_hidden
from sanitize.purge.approval import approve
from sanitize.purge.push import push
from sanitize.purge.verify import verify
from tests.plugins.git_daemon import GitDaemon
from tests.plugins.rewritten_workdir import build_rewritten_workdir


def test_pull_refs_on_a_plain_bare_remote_are_pushed_and_verified(tmp_path: Path) -> None:
    r = build_rewritten_workdir(tmp_path, pull_refs=True)
    git.run(["config", "--unset", "receive.hideRefs"], cwd=r.remote)  # plain git, not a forge
    assert forge_managed(str(r.remote)) == frozenset()
    approve(r.workdir, approver="Alice", digest=r.digest)
    result = push(r.workdir)
    assert result.hidden_refs == []
    assert "refs/pull/1/head" in {u.ref for u in result.changed}
    assert git.refs(r.remote) == r.rewritten_tips
    assert r.rewritten_tips["refs/pull/1/head"] != r.tips_at_scan["refs/pull/1/head"]
    assert verify(r.workdir).clean


def test_a_forge_like_remote_still_keeps_its_pull_refs_out(tmp_path: Path) -> None:
    r = build_rewritten_workdir(tmp_path, pull_refs=True)  # receive.hideRefs refs/pull, as forges do
    assert forge_managed(str(r.remote)) == frozenset({"refs/pull/1/head"})
    approve(r.workdir, approver="Alice", digest=r.digest)
    assert push(r.workdir).hidden_refs == ["refs/pull/1/head"]


def test_a_git_daemon_remote_is_asked_too(tmp_path: Path, git_daemon: GitDaemon) -> None:
    r = build_rewritten_workdir(tmp_path, pull_refs=True)
    served = git_daemon.base / "repo.git"
    git.run(["clone", "-q", "--mirror", str(r.remote), str(served)])
    assert forge_managed(git_daemon.url("repo.git")) == frozenset()
    git.run(["config", "receive.hideRefs", "refs/pull"], cwd=served)
    assert forge_managed(git_daemon.url("repo.git")) == frozenset({"refs/pull/1/head"})


def test_without_an_answer_the_forge_namespaces_are_assumed_hidden() -> None:
    assert forge_managed("https://example.invalid/team/app.git") is None
    assert is_hidden("refs/pull/1/head") and is_hidden("refs/merge-requests/2/head")
    assert not is_hidden("refs/pull/1/head", forge_refs=frozenset())
    assert is_hidden("refs/stash", forge_refs=frozenset()), "a one-level ref is never pushable"
