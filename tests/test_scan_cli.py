"""``git-sanitize scan`` as a user runs it: exit codes, one-line errors, outputs that never hold a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.story_repo import DemoRepo
from sanitize import git


def _scan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=240)


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("git-sanitize: ") and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_findings_exit_1_and_json_is_the_documented_schema(demo_repo: DemoRepo) -> None:
    proc = _scan(str(demo_repo.path), "--format", "json", "--jobs", "2")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "git-sanitize/findings/v2"
    assert set(doc["stats"]) == {"commits", "blobs", "bytes", "seconds", "phases"}
    assert {"refs", "read+detect", "locate", "reachability"} <= set(doc["stats"]["phases"])
    f = doc["findings"][0]
    assert {"rule", "kind", "path", "blob", "commit", "line", "secret_sha256", "preview", "ref_set"} <= set(f)


def test_clean_repository_exits_0(tmp_path: Path) -> None:
    repo = tmp_path / "clean"
    git.run(["init", "-q", "-b", "main", str(repo)])
    (repo / "README.md").write_text("# nothing to see\n")
    git.run(["add", "README.md"], cwd=repo)
    git.run(["-c", "user.name=a", "-c", "user.email=a@x", "commit", "-qm", "init"], cwd=repo)
    proc = _scan(cwd=repo)  # SOURCE defaults to .
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"] == []


def test_no_output_ever_holds_a_planted_value(demo_repo: DemoRepo, tmp_path: Path) -> None:
    outputs: list[str] = []
    for fmt in ("json", "sarif", "markdown", "text"):
        proc = _scan(str(demo_repo.path), "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        outputs += [proc.stdout, proc.stderr]
        target = tmp_path / f"findings.{fmt}"
        proc = _scan(str(demo_repo.path), "--format", fmt, "-o", str(target))
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        assert (target.stat().st_mode & 0o777) == 0o600
        outputs += [target.read_text(encoding="utf-8"), proc.stderr]
    blob = "\n".join(outputs)
    assert "secret_sha256" in blob
    for p in demo_repo.planted:
        for piece in {p.value, *p.value.splitlines()}:
            if len(piece) >= 8:
                assert piece not in blob, f"{p.rule} value leaked into scan output"


def test_output_file_is_created_0600(demo_repo: DemoRepo, tmp_path: Path) -> None:
    target = tmp_path / "findings.json"
    old = os.umask(0)
    try:
        proc = _scan(str(demo_repo.path), "-o", str(target))
    finally:
        os.umask(old)
    assert proc.returncode == 1
    assert (target.stat().st_mode & 0o777) == 0o600
    assert json.loads(target.read_text())["findings"]


def test_url_source(demo_repo: DemoRepo) -> None:
    url = demo_repo.path.resolve().as_uri()
    proc = _scan(url, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"] == url and "refs/stash" in doc["refs"] and "refs/notes/commits" in doc["refs"]


def test_custom_rules_file(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git.run(["init", "-q", "-b", "main", str(repo)])
    (repo / "app.cfg").write_text("license = ACME-" + "7Q2W9E4R1T6Y3U8I" + "\n")
    git.run(["add", "app.cfg"], cwd=repo)
    git.run(["-c", "user.name=a", "-c", "user.email=a@x", "commit", "-qm", "init"], cwd=repo)
    assert _scan(str(repo)).returncode == 0
    rules = tmp_path / "rules.yml"
    rules.write_text("rules:\n  - id: acme.license\n    regex: 'ACME-([A-Z0-9]{16})'\n    keywords: ['ACME-']\n")
    proc = _scan(str(repo), "--rules", str(rules), "--format", "json")
    assert proc.returncode == 1
    assert [f["rule"] for f in json.loads(proc.stdout)["findings"]] == ["acme.license"]


@pytest.mark.parametrize("case", ["not-a-repo", "missing", "shallow", "baseline-unreadable", "baseline-garbage",
                                  "rules-format", "bad-url", "output-dir-missing"])
def test_bad_input_exits_2_with_one_line(case: str, tmp_path: Path, story_repo: DemoRepo) -> None:
    repo = str(story_repo.path)
    if case == "not-a-repo":
        (tmp_path / "plain").mkdir()
        proc, fragment = _scan(str(tmp_path / "plain")), "not a git repository"
    elif case == "missing":
        proc, fragment = _scan(str(tmp_path / "nowhere")), "no such file or directory"
    elif case == "shallow":
        shallow = tmp_path / "shallow"
        git.run(["clone", "-q", "--depth", "1", story_repo.path.resolve().as_uri(), str(shallow)])
        proc, fragment = _scan(str(shallow)), "history incomplete"
    elif case == "baseline-unreadable":
        proc, fragment = _scan(repo, "--baseline", str(tmp_path / "missing.json")), "no such file"
    elif case == "baseline-garbage":
        bad = tmp_path / "baseline.json"
        bad.write_text("{not json")
        proc, fragment = _scan(repo, "--baseline", str(bad)), "not valid JSON"
    elif case == "output-dir-missing":
        proc, fragment = _scan(repo, "-o", str(tmp_path / "no" / "such" / "dir" / "f.json")), "does not exist"
    elif case == "bad-url":
        proc = _scan("http://scanner:hunter2secret@127.0.0.1:1/repo.git")
        fragment = "cannot clone the source URL"
        assert "hunter2secret" not in proc.stderr
    else:
        rules = tmp_path / "rules.ini"
        rules.write_text("[rules]\n")
        proc, fragment = _scan(repo, "--rules", str(rules)), "unknown rules format"
    _assert_one_line_error(proc, fragment)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_progress_bar_only_on_a_terminal(story_repo: DemoRepo, tmp_path: Path, jobs: str) -> None:
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(story_repo.path), "-o",
                               str(tmp_path / "f.json"), "--jobs", jobs], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=slave, timeout=240)
        os.close(slave)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
    assert proc.returncode == 1
    assert b"scanning objects" in drawn
    for p in story_repo.planted:
        assert p.value.encode() not in drawn
