"""The typed artifacts between stages: old versions upgrade on read, a malformed one is one line and exit 2.

Built on the hand-made rewritten workdir (a real remote, mirror and filter-repo
run, with a rewrite record written in the pre-schema shape older workdirs have).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from sanitize.artifacts import rewrite_record
from sanitize.purge.approval import SCHEMA as APPROVAL_SCHEMA
from sanitize.purge.approval import ApprovalPolicy, approve, approvers_of, judge
from sanitize.workdir import Workdir
from tests.plugins.rewritten_workdir import RewrittenWorkdir


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          timeout=240, env={**os.environ})


def _edit_state(workdir: Path, change: object) -> None:
    path = workdir / "state.json"
    doc = json.loads(path.read_text())
    change(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_pre_schema_rewrite_record_is_upgraded_on_read(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    raw = json.loads((r.workdir / "state.json").read_text())["stages"]["rewrite"]
    assert "schema" not in raw and "blast_radius" not in raw  # the shape rewrite wrote before it had a type
    record = rewrite_record.load(Workdir.open(r.workdir))
    assert record.plan_digest == r.digest
    assert dict(record.tips_at_scan) == r.tips_at_scan and dict(record.rewritten_tips) == r.rewritten_tips
    assert record.first_changed_commits == r.first_changed_commits
    assert record.blast_radius.refs_total == len(r.tips_at_scan)
    assert record.blast_radius.commits_changing == len(record.old_commits) > 0
    assert set(record.banned_ids) >= set(r.purged_blobs) | set(r.first_changed_commits)
    dumped = record.dump()
    assert dumped["schema"] == rewrite_record.SCHEMA
    assert rewrite_record.parse(json.loads(json.dumps(dumped)), "again") == record


def test_a_malformed_rewrite_record_is_one_line_and_exit_2(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    _edit_state(r.workdir, lambda d: d["stages"]["rewrite"].update(rewritten_tips=["refs/heads/main"]))
    for args in (["push", "--workdir", str(r.workdir), "--allow-unsigned", "--dry-run"],
                 ["verify", "--workdir", str(r.workdir)], ["notify", "--workdir", str(r.workdir)]):
        line = _one_line(_cli(*args))
        assert "malformed rewrite record" in line and "rewritten_tips" in line, line


def test_a_workdir_plan_edited_after_the_rewrite_is_refused_by_every_stage_that_reads_the_record(
        rewritten_workdir: RewrittenWorkdir) -> None:
    """The plan is loaded and verified (digest over plan.json and plan.secrets), not only its digest field
    compared: an action slipped into the workdir's plan.json with the digest left as it was is refused."""
    r = rewritten_workdir
    plan = r.workdir / "plan.json"
    doc = json.loads(plan.read_text())
    doc["actions"]["delete_paths"] = []
    plan.write_text(json.dumps(doc))
    for args in (["notify", "--workdir", str(r.workdir)], ["verify", "--workdir", str(r.workdir)],
                 ["push", "--workdir", str(r.workdir), "--allow-unsigned", "--dry-run"],
                 ["guard", "install", "--workdir", str(r.workdir), "--remote", str(r.remote)]):
        line = _one_line(_cli(*args))
        assert "digest does not match" in line or "malformed plan" in line, (args[0], line)
    assert not (r.remote / "hooks" / "pre-receive").exists()


def test_an_unfinished_rewrite_is_refused_not_read_as_empty(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    _edit_state(r.workdir, lambda d: d["stages"]["rewrite"].update(status="running"))
    line = _one_line(_cli("push", "--workdir", str(r.workdir), "--allow-unsigned", "--dry-run"))
    assert "rewrite has not completed" in line


def test_a_state_file_with_an_unknown_status_is_one_line_and_exit_2(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    _edit_state(r.workdir, lambda d: d["stages"].update(push={"status": "exploded"}))
    line = _one_line(_cli("status", "--workdir", str(r.workdir)))
    assert "state.json" in line and "exploded" in line


def test_state_is_private_and_reads_back_typed(rewritten_workdir: RewrittenWorkdir) -> None:
    wd = Workdir.open(rewritten_workdir.workdir)
    wd.record("notify", "done", deadline="2026-12-01", collaborators=3)
    assert stat.S_IMODE(os.stat(wd.state_path).st_mode) == 0o600
    rec = wd.stage("notify")
    assert rec.status == "done" and rec.finished and rec.text("deadline") == "2026-12-01"
    assert rec.number("collaborators") == 3 and rec["status"] == "done"
    assert wd.stage("guard").status == "pending"
    assert wd.meta().approval_policy == {"allowed_signers": None, "unsigned": True}


def test_an_approval_file_from_before_the_schema_still_counts(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice Admin", digest=r.digest)
    [path] = sorted((r.workdir / "approvals").glob("*.json"))
    doc = json.loads(path.read_text())
    assert doc["schema"] == APPROVAL_SCHEMA
    del doc["schema"]
    path.write_text(json.dumps(doc))
    assert approvers_of(judge(r.workdir, ApprovalPolicy(unsigned=True))) == ["alice admin"]
    path.write_text(json.dumps({**doc, "schema": "git-sanitize/approval/v9"}))
    line = _one_line(_cli("push", "--workdir", str(r.workdir), "--allow-unsigned", "--dry-run"))
    assert "corrupt approval file" in line and "approval/v9" in line


def test_a_malformed_plan_action_is_named(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    r = rewritten_workdir
    plan = json.loads((r.workdir / "plan.json").read_text())
    plan["actions"]["delete_paths"][0].pop("path")
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    (tmp_path / "plan.secrets").write_bytes((r.workdir / "plan.secrets").read_bytes())
    os.chmod(tmp_path / "plan.secrets", 0o600)
    line = _one_line(_cli("rewrite", str(tmp_path / "plan.json"), "--workdir", str(tmp_path / "wd")))
    assert "actions.delete_paths[0]" in line and "'path'" in line


def test_a_first_shape_plan_summary_reads_back_typed_and_dumps_as_written(rewritten_workdir: RewrittenWorkdir) -> None:
    from sanitize.artifacts.plan_summary import PlanSummary
    from sanitize.purge.plan import load_plan

    r = rewritten_workdir
    plan = load_plan(r.workdir / "plan.json")
    assert isinstance(plan.summary, PlanSummary) and plan.summary.findings == 2 and plan.summary.short_values == 0
    assert plan.summary.held_back_values is None  # a first-shape plan did not count them: unknown, not 0
    assert plan.summary.dump() == json.loads((r.workdir / "plan.json").read_text())["summary"]  # as written


def test_a_malformed_plan_summary_or_review_section_is_named(rewritten_workdir: RewrittenWorkdir,
                                                             tmp_path: Path) -> None:
    r = rewritten_workdir
    plan = json.loads((r.workdir / "plan.json").read_text())
    cases = [("summary", {**plan, "summary": {**plan["summary"], "commits_total": "many"}}, "'commits_total'"),
             ("summary", {**plan, "summary": {**plan["summary"], "paths": 1}}, "'paths'"),
             ("held_back[0]", {**plan, "held_back": [{"secret_sha256": "0" * 64}]}, "'preview'"),
             ("plan", {**plan, "surprise": True}, "'surprise'")]
    for n, (where, doc, field) in enumerate(cases):
        case = tmp_path / str(n)
        case.mkdir()
        (case / "plan.json").write_text(json.dumps(doc))
        (case / "plan.secrets").write_bytes((r.workdir / "plan.secrets").read_bytes())
        os.chmod(case / "plan.secrets", 0o600)
        line = _one_line(_cli("rewrite", str(case / "plan.json"), "--workdir", str(case / "wd")))
        assert where in line and field in line, line


def test_ack_code_on_an_unreadable_plan_is_refused_not_read_as_empty(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    doc = json.loads((r.workdir / "plan.json").read_text())
    (r.workdir / "plan.json").write_text(json.dumps({**doc, "fail_closed": {"names": "JWT_SECRET"}}))
    line = _one_line(_cli("approve", "--workdir", str(r.workdir), "--approver", "alice admin", "--digest", r.digest,
                          "--ack-code", "config.yml"))
    assert "fail_closed" in line and "'names'" in line
