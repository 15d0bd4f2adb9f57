"""Approvals: bound to the plan digest and the rewritten tips, expiring, audited, counted per person."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from sanitize import git
from sanitize.errors import UsageError
from sanitize.purge.approval import ApprovalPolicy, approve, approvers_of, judge, load_approvals, parse_duration
from tests.plugins.rewritten_workdir import RewrittenWorkdir

UNSIGNED = ApprovalPolicy(unsigned=True)  # what the fixture's "playbook" recorded


def valid_approvals(workdir: object, now: datetime | None = None) -> list:
    return [v.approval for v in judge(workdir, UNSIGNED, now=now) if v.counts]  # type: ignore[arg-type]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True)


def test_approval_names_digest_and_rewritten_tips_and_is_audited(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    a = approve(r.workdir, approver="Alice", digest=r.digest, expires="2h")
    assert a.digest == r.digest and a.rewritten_tips == r.rewritten_tips
    files = list((r.workdir / "approvals").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["approver"] == "Alice"
    records = [json.loads(line) for line in (r.workdir / "audit.log").read_text().splitlines()]
    assert records[-1]["event"] == "approved" and records[-1]["approver"] == "Alice"
    assert records[-1]["digest"] == r.digest
    text = (r.workdir / "audit.log").read_text()
    assert all(s not in text for s in r.secrets)
    assert valid_approvals(r.workdir) == [a]


def test_wrong_digest_is_refused_and_nothing_recorded(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    wrong = ("0" if r.digest[0] != "0" else "1") + r.digest[1:]
    proc = cli("approve", "--workdir", str(r.workdir), "--approver", "Mallory", "--digest", wrong)
    assert proc.returncode == 2 and "not the rewritten plan's digest" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert load_approvals(r.workdir) == []
    with pytest.raises(UsageError):
        approve(r.workdir, approver="Mallory", digest="abc")


def test_cli_approve_succeeds_with_the_right_digest(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    proc = cli("approve", "--workdir", str(r.workdir), "--approver", "Bob", "--digest", r.digest)
    assert proc.returncode == 0, proc.stderr
    assert "approved by Bob" in proc.stdout and "1 distinct valid approver" in proc.stdout


def test_expired_approval_does_not_count(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    created = datetime.now(UTC)
    approve(r.workdir, approver="Alice", digest=r.digest, expires="30m", now=created)
    assert len(valid_approvals(r.workdir, now=created + timedelta(minutes=29))) == 1
    assert valid_approvals(r.workdir, now=created + timedelta(minutes=31)) == []


def test_approval_stops_counting_when_rewritten_tips_change(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    state = json.loads((r.workdir / "state.json").read_text())
    tips = state["stages"]["rewrite"]["rewritten_tips"]
    main_tip = tips["refs/heads/main"]
    # A second rewrite produced other tips: the old approval no longer matches what would be pushed.
    other = git.out(["rev-parse", "refs/heads/feature"], cwd=r.workdir / "mirror.git")
    git.run(["update-ref", "refs/heads/main", other], cwd=r.workdir / "mirror.git")
    tips["refs/heads/main"] = other
    (r.workdir / "state.json").write_text(json.dumps(state))
    assert main_tip != other
    assert valid_approvals(r.workdir) == []


def test_mirror_moved_after_rewrite_is_refused(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    git.run(["update-ref", "-d", "refs/heads/feature"], cwd=r.workdir / "mirror.git")
    with pytest.raises(UsageError, match="rewrite again"):
        approve(r.workdir, approver="Alice", digest=r.digest)


def test_quorum_counts_distinct_approvers(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    approve(r.workdir, approver="Alice", digest=r.digest)
    assert len(approvers_of(judge(r.workdir, UNSIGNED))) == 1
    approve(r.workdir, approver="Bob", digest=r.digest)
    approve(r.workdir, approver="  bob ", digest=r.digest)
    assert approvers_of(judge(r.workdir, UNSIGNED)) == ["alice", "bob"]


@pytest.mark.parametrize("text", ["", "0h", "24", "h", "-1h", "1y", "99999999999d", "31d"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration("7d") == timedelta(days=7)


def test_approve_stage_opens_only_with_the_playbooks_quorum(rewritten_workdir: RewrittenWorkdir) -> None:
    from sanitize.workdir import Workdir

    r = rewritten_workdir
    wd = Workdir.open(r.workdir)
    wd.set_meta(approvals_required=2)
    approve(r.workdir, approver="Alice", digest=r.digest)
    assert wd.stage("approve")["status"] == "waiting"
    approve(r.workdir, approver="Bob", digest=r.digest)
    assert wd.stage("approve")["status"] == "done" and wd.stage("approve")["approvers"] == ["alice", "bob"]
