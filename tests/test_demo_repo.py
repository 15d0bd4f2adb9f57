"""The fixture builder itself: deterministic, every ref kind present, values really in history, none in the repo."""

import subprocess
from pathlib import Path

from demo.story_repo import build_demo_repo
from sanitize import git


def _all_objects_text(repo: Path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                          capture_output=True, check=True).stdout


def test_same_seed_same_history(tmp_path: Path) -> None:
    a = build_demo_repo(tmp_path / "a", seed=7)
    b = build_demo_repo(tmp_path / "b", seed=7)
    c = build_demo_repo(tmp_path / "c", seed=8)
    assert git.refs(a.path) == git.refs(b.path)
    assert [p.sha256 for p in a.planted] == [p.sha256 for p in b.planted]
    assert {p.sha256 for p in a.planted}.isdisjoint({p.sha256 for p in c.planted})


def test_every_ref_kind_and_history_shape(demo_repo) -> None:
    refs = git.refs(demo_repo.path)
    for ref in ("refs/heads/main", "refs/heads/feature/local-dev", "refs/tags/v1.0.0", "refs/tags/v0.9.1-hotfix",
                "refs/notes/commits", "refs/stash", "refs/remotes/origin/old-infra"):
        assert ref in refs
    merges = git.out(["rev-list", "--merges", "--all"], cwd=demo_repo.path).split()
    assert merges
    assert git.out(["cat-file", "-t", "refs/tags/v1.0.0"], cwd=demo_repo.path) == "tag"
    assert len(demo_repo.authors) >= 3
    kinds = {p.kind for p in demo_repo.planted}
    assert kinds == {"path", "content", "message"}


def test_every_planted_value_is_in_history_and_reachable_from_its_ref(demo_repo) -> None:
    data = _all_objects_text(demo_repo.path)
    for p in demo_repo.planted:
        assert p.value.encode() in data, p.rule
        if p.path and p.kind != "message":
            paths = git.out(["-c", "core.quotePath=false", "log", "--format=", "--name-only", p.ref],
                            cwd=demo_repo.path).splitlines()
            assert p.path in paths, p.path


def test_story_only_has_the_design_story(story_repo) -> None:
    paths = {p.path for p in story_repo.planted}
    assert {".ssl/key.pem", "server/auth.ts", "server/users.ts", "config/database.yml", ".env"} <= paths
    assert any(p.rule == "path.credential-json" for p in story_repo.planted)
