"""The playbook runner's own logic: source-moved detection, workdir ownership, status before any stage."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.errors import UsageError
from sanitize.playbook import config as playbook_config
from sanitize.playbook.runner import Runner, moved_refs, source_tips, status


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True)


def test_source_tips_match_every_ref_the_scan_sees(story_repo) -> None:
    assert source_tips(str(story_repo.path)) == git.refs(story_repo.path)


def test_moved_refs_names_changed_new_and_deleted_refs() -> None:
    seen = {"refs/heads/main": "a" * 40, "refs/heads/old": "b" * 40}
    now = {"refs/heads/main": "c" * 40, "refs/heads/new": "d" * 40}
    assert moved_refs(seen, now) == ["refs/heads/main", "refs/heads/new", "refs/heads/old"]
    assert moved_refs(seen, dict(seen)) == []


def _playbook(tmp_path: Path, source: str, workdir: str = "wd") -> Path:
    p = tmp_path / "purge.yml"
    p.write_text(f"source: {source}\nworkdir: {workdir}\napprovals: {{required: 2, unsigned: true}}\n",
                 encoding="utf-8")
    return p


def test_a_workdir_belongs_to_one_source(tmp_path: Path, story_repo) -> None:
    Runner(playbook_config.load(_playbook(tmp_path, str(story_repo.path))), echo=lambda _: None)
    other = tmp_path / "other"
    other.mkdir()
    git.run(["init", "-q", "--bare", str(tmp_path / "elsewhere.git")])
    (other / "purge.yml").write_text(f"source: {tmp_path / 'elsewhere.git'}\nworkdir: {tmp_path / 'wd'}\n"
                                     "approvals: {unsigned: true}\n")
    with pytest.raises(UsageError, match="belongs to a purge of"):
        Runner(playbook_config.load(other / "purge.yml"), echo=lambda _: None)


def test_status_before_any_stage_says_what_comes_next(tmp_path: Path, story_repo) -> None:
    pb = _playbook(tmp_path, str(story_repo.path))
    Runner(playbook_config.load(pb), echo=lambda _: None)
    doc = status(tmp_path / "wd")
    assert doc["plan_digest"] is None
    assert all(rec["status"] == "pending" for rec in doc["stages"].values())
    assert doc["approvals"] == {"required": 2, "valid": 0, "approvers": []}
    assert doc["next"].startswith("scan: git-sanitize run")
    proc = _cli("status", "--workdir", str(tmp_path / "wd"), "--format", "json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["stages"]["scan"]["status"] == "pending"


def test_status_of_a_non_workdir_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _cli("status", "--workdir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a git-sanitize workdir" in proc.stderr


def test_run_of_a_rotation_only_playbook_without_its_config_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "rot.yml"
    p.write_text("rotate: rotation.yml\n", encoding="utf-8")
    proc = _cli("run", str(p))
    assert proc.returncode == 2
    assert "rotation.yml" in proc.stderr and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
