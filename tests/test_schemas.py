"""The shipped JSON schemas describe what a real purge writes.

`git-sanitize schema NAME` prints each schema (a valid draft 2020-12 document);
an unknown name is one line and exit 2. A real playbook run (scan, plan,
rewrite, notify, approve, push, verify, guard, rotate against OpenBao) leaves
findings, a plan, a rewrite record, an approval, the workdir state and rotation
lines and the rewrite report: every one validates against its schema, and a document that breaks the
contract does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from demo.story_repo import DemoRepo
from sanitize.artifacts.schemas import NAMES
from tests.test_run_playbook import Purge


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, env=env,
                          timeout=240)


def _schema(name: str) -> dict[str, Any]:
    proc = _cli("schema", name)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _errors(name: str, doc: object) -> list[str]:
    validator = Draft202012Validator(_schema(name))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("name", sorted(NAMES))
def test_schema_prints_a_valid_draft_2020_12_schema(name: str) -> None:
    doc = _schema(name)
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"].startswith("urn:git-sanitize:schema:")


def test_an_unknown_schema_name_is_one_line_naming_the_choices() -> None:
    proc = _cli("schema", "nonsense")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nonsense" in lines[0] and all(n in lines[0] for n in NAMES), proc.stderr


@pytest.mark.services
def test_every_artifact_of_a_real_purge_validates(tmp_path: Path, story_repo: DemoRepo, vault: Any) -> None:
    purge = Purge(tmp_path, story_repo, vault)
    assert purge.run().returncode == 3
    purge.approve()
    assert purge.run().returncode == 1  # the story leaks credentials the config cannot rotate: still live
    purge.revoke_the_rest_by_hand()
    done = purge.run()
    assert done.returncode == 0, done.stderr
    wd = purge.workdir

    findings = json.loads((wd / "findings.json").read_text())
    assert findings["findings"] and _errors("findings", findings) == []
    plan = json.loads((wd / "plan.json").read_text())
    assert plan["actions"]["delete_paths"] and plan["actions"]["replace"]
    assert _errors("plan", plan) == []
    state = json.loads((wd / "state.json").read_text())
    assert _errors("state", state) == []
    record = state["stages"]["rewrite"]
    assert record["schema"] == "git-sanitize/rewrite-record/v1" and record["old_commits"]
    assert _errors("rewrite-record", record) == []
    report = json.loads((wd / "rewrite-report.json").read_text())
    assert report["verification"]["clean"] and _errors("rewrite-report", report) == []
    approvals = sorted((wd / "approvals").glob("*.json"))
    assert approvals
    for path in approvals:
        assert _errors("approval", json.loads(path.read_text())) == [], path.name
    lines = [json.loads(line) for line in (wd / "rotation.log").read_text().splitlines() if line.strip()]
    assert any(x["step"] == "state" for x in lines)
    # The command's own lines in a pipe, the summary included.
    proc = _cli("rotate", "--config", str(tmp_path / "rotation.yml"), "--dry-run", "--audit-log",
                str(tmp_path / "dry-run-audit.log"), env=purge.env)
    assert proc.returncode == 0, proc.stderr
    piped = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert piped[-1]["step"] == "summary"
    for line in lines + piped:
        assert _errors("rotation-run", line) == [], line

    # The schemas are not vacuous: a broken document of each kind is refused.
    assert _errors("findings", {**findings, "findings": [{**findings["findings"][0], "secret_sha256": "x"}]})
    assert _errors("plan", {**plan, "digest": 7})
    assert _errors("rewrite-record", {k: v for k, v in record.items() if k != "rewritten_tips"})
    assert _errors("approval", {**json.loads(approvals[0].read_text()), "digest": "short"})
    assert _errors("state", {**state, "stages": {"scan": {"status": "exploded"}}})
    assert _errors("rewrite-report", {**report, "verification": {"clean": "yes", "problems": []}})
    assert _errors("rotation-run", {"step": "summary", "status": "ok"})
