"""The full-history scan on the generated demo repository: recall, no decoys, where each secret lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.story_repo import DemoRepo
from sanitize import git
from sanitize.errors import GitError, UsageError
from sanitize.scan.engine import recover_values, scan_repository
from sanitize.scan.report import Finding, ScanReport


def _commit_with_subject(repo: Path, subject: str) -> str:
    out = git.out(["log", "--all", "--format=%H %s"], cwd=repo)
    matches = [line.split(" ", 1)[0] for line in out.splitlines() if line.split(" ", 1)[1] == subject]
    assert len(matches) == 1, subject
    return matches[0]


def _by_sha(report: ScanReport, sha: str, kind: str) -> list[Finding]:
    return [f for f in report.findings if f.secret_sha256 == sha and f.kind == kind]


@pytest.fixture
def demo_report(demo_repo: DemoRepo) -> ScanReport:
    return scan_repository(str(demo_repo.path), jobs=2)


def test_every_planted_secret_is_found_with_its_kind_and_ref(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    for p in demo_repo.planted:
        found = _by_sha(demo_report, p.sha256, p.kind)
        assert found, f"{p.rule} at {p.path} not found"
        assert any(p.ref in f.refs for f in found), (p.rule, p.ref, [f.refs for f in found])
        if p.path is not None:
            assert any(f.path == p.path for f in found), (p.rule, p.path, [f.path for f in found])
        assert all(len(f.preview.rstrip("…")) <= 4 for f in found)


def test_reported_rule_ids_match_the_planted_families(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    for p in demo_repo.planted:
        rules = {f.rule for f in _by_sha(demo_report, p.sha256, p.kind)}
        assert p.rule in rules, (p.rule, rules)


def test_no_decoy_is_reported(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    reported_paths = {f.path for f in demo_report.findings}
    assert reported_paths.isdisjoint(demo_repo.decoys), reported_paths & set(demo_repo.decoys)
    # Nothing reported that is not a planted secret or a value inside a planted secret-bearing file.
    planted_paths = {p.path for p in demo_repo.planted if p.path}
    notes_blob_paths = {f.path for f in demo_report.findings if "refs/notes/commits" in f.refs and
                        f.refs == ("refs/notes/commits",)}
    for f in demo_report.findings:
        if f.kind == "message":
            assert any(p.sha256 == f.secret_sha256 for p in demo_repo.planted)
        else:
            assert f.path in planted_paths | notes_blob_paths, (f.rule, f.path)


def test_first_commit_path_and_line_are_where_the_secret_entered(demo_repo: DemoRepo,
                                                                 demo_report: ScanReport) -> None:
    repo = demo_repo.path
    jwt = next(p for p in demo_repo.planted if p.rule == "default.jwt-secret")
    (f,) = _by_sha(demo_report, jwt.sha256, "content")
    assert f.commit == _commit_with_subject(repo, "Add JWT auth")
    assert f.path == "server/auth.ts" and f.line == 4
    assert git.out(["cat-file", "-t", f.blob or ""], cwd=repo) == "blob"
    # A renamed file: reported where it first appeared, reachable from main after the move too.
    db = next(p for p in demo_repo.planted if p.path == "config/database.yml")
    (f,) = _by_sha(demo_report, db.sha256, "content")
    assert f.commit == _commit_with_subject(repo, "Production database config")
    assert f.path == "config/database.yml"
    # A deleted file is still found, at the commit that added it.
    ssh = next(p for p in demo_repo.planted if p.path == "deploy/id_rsa")
    (f,) = _by_sha(demo_report, ssh.sha256, "path")
    assert f.commit == _commit_with_subject(repo, "Deploy key for the build box")
    assert f.rule == "path.private-key" and f.line is None
    # Only the side branch reaches the .env.
    env = next(p for p in demo_repo.planted if p.path == ".env")
    (f,) = _by_sha(demo_report, env.sha256, "path")
    assert f.refs == ("refs/heads/feature/local-dev",)
    # A commit reachable only from a lightweight tag / a remote-tracking ref.
    backup = next(p for p in demo_repo.planted if p.path == "scripts/backup.sh")
    (f,) = _by_sha(demo_report, backup.sha256, "content")
    assert "refs/heads/main" not in f.refs and "refs/tags/v0.9.1-hotfix" in f.refs


def test_commit_and_tag_messages_are_scanned(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    repo = demo_repo.path
    gh = next(p for p in demo_repo.planted if p.kind == "message" and p.rule == "github.token")
    commit = _commit_with_subject(repo, git.out(["log", "-1", "--format=%s", "refs/heads/main"], cwd=repo))
    found = {f.commit: f for f in _by_sha(demo_report, gh.sha256, "message")}
    assert commit in found
    assert found[commit].path is None and found[commit].blob is None and found[commit].line == 1
    assert "refs/heads/main" in found[commit].refs
    tag = next(p for p in demo_repo.planted if p.kind == "message" and p.rule == "stripe.key")
    (f,) = _by_sha(demo_report, tag.sha256, "message")
    assert f.commit == git.out(["rev-parse", "refs/tags/v1.0.0"], cwd=repo)
    assert f.refs == ("refs/tags/v1.0.0",) and f.line == 3


def test_refs_and_stats_cover_every_ref(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    assert demo_report.refs == git.refs(demo_repo.path)
    assert demo_report.stats.commits == len(git.out(["rev-list", "--all"], cwd=demo_repo.path).split())
    blobs = git.out(["rev-list", "--objects", "--all", "--filter=object:type=blob", "--no-object-names"],
                    cwd=demo_repo.path).split()
    not_blobs = set(git.out(["rev-list", "--all"], cwd=demo_repo.path).split())
    not_blobs.add(git.out(["rev-parse", "refs/tags/v1.0.0"], cwd=demo_repo.path))  # the annotated tag object
    assert demo_report.stats.blobs == len(set(blobs) - not_blobs)
    assert demo_report.source == str(demo_repo.path.resolve())


def test_unreachable_objects_and_reflog_are_not_scanned(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git.run(["init", "-q", "-b", "main", str(repo)])
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}
    (repo / "a.txt").write_text("hello\n")
    git.run(["add", "a.txt"], cwd=repo)
    git.run(["commit", "-qm", "one"], cwd=repo, env=env)
    pw = "Zq" + "8vLm2Rt9Kw4Px"
    (repo / "db.yml").write_text(f"url: postgresql://app:{pw}@db/x\n")
    git.run(["add", "db.yml"], cwd=repo)
    git.run(["commit", "-qm", "two"], cwd=repo, env=env)
    assert scan_repository(str(repo), jobs=1).findings
    git.run(["reset", "-q", "--hard", "HEAD~1"], cwd=repo)  # still in the reflog and the object store
    report = scan_repository(str(repo), jobs=1)
    assert report.findings == []


def test_jobs_do_not_change_the_result(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    one = scan_repository(str(demo_repo.path), jobs=1)
    assert one.findings == demo_report.findings


def test_url_source_is_mirror_cloned(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    url = demo_repo.path.resolve().as_uri()
    report = scan_repository(url, jobs=2)
    assert report.source == url
    assert {(f.rule, f.kind, f.secret_sha256) for f in report.findings} == \
        {(f.rule, f.kind, f.secret_sha256) for f in demo_report.findings}


def test_recover_values_returns_exact_values(demo_repo: DemoRepo, demo_report: ScanReport) -> None:
    values = recover_values(demo_repo.path, demo_report.findings)
    by_id = {f.id: f for f in demo_report.findings}
    assert values
    for fid, secret in values.items():
        assert secret.sha256 == by_id[fid].secret_sha256
    non_path = {f.id for f in demo_report.findings if f.kind != "path"}
    assert set(values) == non_path
    planted = {p.sha256: p.value for p in demo_repo.planted if p.kind != "path"}
    recovered = {s.sha256 for s in values.values()}
    assert set(planted) <= recovered


def test_baseline_of_own_findings_suppresses_everything(demo_repo: DemoRepo, demo_report: ScanReport,
                                                       tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    base.write_text(demo_report.to_json())
    assert scan_repository(str(demo_repo.path), baseline=str(base)).findings == []


def test_detect_secrets_baseline_suppresses_by_sha1(tmp_path: Path) -> None:
    import hashlib
    import json

    repo = tmp_path / "r"
    git.run(["init", "-q", "-b", "main", str(repo)])
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}
    token = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    (repo / "ci.sh").write_text(f"TOKEN={token}\n")
    git.run(["add", "ci.sh"], cwd=repo)
    git.run(["commit", "-qm", "ci"], cwd=repo, env=env)
    assert scan_repository(str(repo)).findings
    sha1 = hashlib.sha1(token.encode()).hexdigest()
    base = tmp_path / ".secrets.baseline"
    base.write_text(json.dumps({"version": "1.5.0", "plugins_used": [], "results": {
        "ci.sh": [{"type": "GitHub Token", "filename": "ci.sh", "hashed_secret": sha1, "line_number": 1}]}}))
    assert scan_repository(str(repo), baseline=str(base)).findings == []


def test_bad_inputs_raise_one_clear_error(tmp_path: Path, demo_repo: DemoRepo) -> None:
    with pytest.raises(UsageError, match="no such file"):
        scan_repository(str(tmp_path / "missing"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError, match="not a git repository"):
        scan_repository(str(tmp_path / "plain"))
    shallow = tmp_path / "shallow"
    git.run(["clone", "-q", "--depth", "1", demo_repo.path.resolve().as_uri(), str(shallow)])
    with pytest.raises(UsageError, match="history incomplete"):
        scan_repository(str(shallow))
    with pytest.raises(UsageError, match="no such file"):
        scan_repository(str(demo_repo.path), baseline=str(tmp_path / "nope.json"))
    rules = tmp_path / "rules.ini"
    rules.write_text("[x]\n")
    with pytest.raises(UsageError, match="unknown rules format"):
        scan_repository(str(demo_repo.path), rules_file=str(rules))


def test_a_moved_secret_file_is_reported_at_every_path(tmp_path: Path) -> None:
    import base64
    import random

    repo = tmp_path / "r"
    git.run(["init", "-q", "-b", "main", str(repo)])
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}
    dashes = "-" * 5
    key = f"{dashes}BEGIN PRIVATE KEY{dashes}\n" + base64.b64encode(random.Random(3).randbytes(300)).decode() + \
        f"\n{dashes}END PRIVATE KEY{dashes}\n"
    (repo / ".ssl").mkdir()
    (repo / ".ssl/key.pem").write_text(key)
    git.run(["add", "."], cwd=repo)
    git.run(["commit", "-qm", "add key"], cwd=repo, env=env)
    first = git.out(["rev-parse", "HEAD"], cwd=repo)
    (repo / "certs").mkdir()
    git.run(["mv", ".ssl/key.pem", "certs/server.pem"], cwd=repo)
    git.run(["commit", "-qm", "move key"], cwd=repo, env=env)
    moved = git.out(["rev-parse", "HEAD"], cwd=repo)
    report = scan_repository(str(repo), jobs=1)
    path_findings = {(f.path, f.commit) for f in report.findings if f.kind == "path"}
    assert path_findings == {(".ssl/key.pem", first), ("certs/server.pem", moved)}
    assert len({f.id for f in report.findings}) == len(report.findings)
