"""rewrite: a fresh mirror, a backup bundle, git-filter-repo, and proof that nothing planned survives."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from demo.story_repo import DemoRepo, build_demo_repo
from sanitize import git
from sanitize.errors import UsageError, VerificationFailed
from sanitize.purge.plan import Plan, load_plan, make_plan
from sanitize.purge.rewrite import _rewritten_range, _to_search, _verify, rewrite
from sanitize.scan.engine import scan_repository
from sanitize.scan.report import Finding, ScanReport
from sanitize.secret import sha256_hex
from sanitize.workdir import Workdir
from tests.test_plan import Small

CONTRACT_FIELDS = {"plan_digest", "source", "tips_at_scan", "rewritten_tips", "deleted_refs", "first_changed",
                   "old_commits", "purged_blobs", "first_changed_commits"}


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def _all_objects(repo: Path) -> bytes:
    return git.run(["cat-file", "--batch-all-objects", "--batch"], cwd=repo).stdout


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _tree_files(repo: Path, rev: str) -> dict[str, str]:
    text = git.out(["ls-tree", "-r", "-z", "--full-tree", rev], cwd=repo)
    files = {}
    for entry in text.split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            files[path] = meta.split()[2]
    return files


@pytest.fixture(scope="module")
def demo_purge(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoRepo, Plan, Path]:
    """scan → plan → rewrite on the full generated fixture, through the real scan engine (built once:
    the tests below only read the result; the re-run test runs last and must leave it as it was)."""
    tmp_path = tmp_path_factory.mktemp("purge")
    demo_repo = build_demo_repo(tmp_path / "demo", seed=2026)
    report = scan_repository(str(demo_repo.path))
    (tmp_path / "findings.json").write_text(report.to_json())
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "review" / "plan.json"))
    workdir = tmp_path / "wd"
    rewrite(str(plan.path), str(workdir))
    return demo_repo, plan, workdir


# End to end on the generated fixture ----------------------------------------------------------
def test_no_planted_value_is_reachable_in_any_object(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, _plan, wd = demo_purge
    blob = _all_objects(wd / "mirror.git")
    for p in demo.planted:
        assert p.value.encode() not in blob, (p.rule, p.path)
    # and the original really held them (the check can fail)
    original = _all_objects(demo.path)
    assert all(p.value.encode() in original for p in demo.planted if p.kind != "path")


def test_deleted_paths_are_gone_from_every_commit(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, plan, wd = demo_purge
    assert {p.path for p in demo.planted if p.action == "delete-path"} <= set(plan.paths)
    log = git.out(["log", "--all", "--format=%H", "--", *plan.paths], cwd=wd / "mirror.git")
    assert log == ""


def test_decoys_byte_identical_at_every_branch_tip(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, _plan, wd = demo_purge
    before, after = git.refs(demo.path), git.refs(wd / "mirror.git")
    checked = 0
    for ref in before:
        if not ref.startswith("refs/heads/"):
            continue
        old, new = _tree_files(demo.path, before[ref]), _tree_files(wd / "mirror.git", after[ref])
        for decoy in demo.decoys:
            if decoy in old:
                assert new.get(decoy) == old[decoy], (ref, decoy)
                checked += 1
    assert checked >= len(demo.decoys)


def test_history_shape_kept_commit_counts_tags_and_authors(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, _plan, wd = demo_purge
    mirror = wd / "mirror.git"
    before, after = git.refs(demo.path), git.refs(mirror)
    assert set(after) == set(before)  # every ref kept: branches, tags, notes, stash, remote-tracking
    for ref in before:
        if ref.startswith(("refs/heads/", "refs/tags/", "refs/remotes/")):
            assert git.out(["rev-list", "--count", before[ref]], cwd=demo.path) == \
                git.out(["rev-list", "--count", after[ref]], cwd=mirror), ref
    assert git.out(["cat-file", "-t", after["refs/tags/v1.0.0"]], cwd=mirror) == "tag"
    fmt = "--format=%an %ae %ad %cn %ce %cd %P"
    old_log = git.out(["log", "--all", "--date=raw", fmt.replace(" %P", "")], cwd=demo.path).splitlines()
    new_log = git.out(["log", "--all", "--date=raw", fmt.replace(" %P", "")], cwd=mirror).splitlines()
    assert sorted(old_log) == sorted(new_log)
    merges = git.out(["rev-list", "--all", "--merges", "--count"], cwd=mirror)
    assert merges == git.out(["rev-list", "--all", "--merges", "--count"], cwd=demo.path)


def test_commits_before_the_first_change_keep_their_ids(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, _plan, wd = demo_purge
    cmap = dict(line.split() for line in (wd / "commit-map").read_text().splitlines()[1:])
    every = set(git.out(["rev-list", "--all"], cwd=demo.path).splitlines())
    assert set(cmap) == every  # every old commit maps to exactly one new commit
    assert len(set(cmap.values())) == len(cmap) and "0" * 40 not in cmap.values()
    detail = Workdir(wd).stage("rewrite")
    changed = set(detail["old_commits"])
    unchanged = every - changed
    assert unchanged and all(cmap[c] == c for c in unchanged)
    assert git.out(["rev-list", "--all"], cwd=wd / "mirror.git").count("\n") + 1 == len(every)
    for c in unchanged:  # an unchanged commit has only unchanged ancestors
        assert not set(git.out(["rev-list", c], cwd=demo.path).splitlines()) & changed


def test_workdir_artifacts_modes_and_no_value_anywhere(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, _plan, wd = demo_purge
    assert _mode(wd) == 0o700
    assert _mode(wd / "backup.bundle") == 0o600 and _mode(wd / "plan.secrets") == 0o600
    for name in ("plan.json", "plan.md", "rewrite-report.json", "rewrite-report.md", "state.json", "audit.log",
                 "commit-map", "ref-map", "filter-repo.log", "rewrite-inventory.json"):
        text = (wd / name).read_text(encoding="utf-8")
        for p in demo.planted:
            if p.kind != "path":
                assert p.value not in text, (name, p.rule)
    assert not (wd / "paths-to-delete").exists()
    # the bundle holds the original: every ref
    heads = git.out(["bundle", "list-heads", str(wd / "backup.bundle")], cwd=wd / "mirror.git")
    assert {line.split()[1] for line in heads.splitlines()} >= set(git.refs(demo.path))


def test_state_detail_has_every_contract_field(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, plan, wd = demo_purge
    detail = Workdir(wd).stage("rewrite")
    assert detail["status"] == "done"
    assert CONTRACT_FIELDS <= set(detail)
    assert detail["plan_digest"] == plan.digest and detail["source"] == plan.source
    assert detail["artifacts"]["commit-map"] == hashlib.sha256((wd / "commit-map").read_bytes()).hexdigest()
    assert detail["tips_at_scan"] == git.refs(demo.path)
    assert detail["rewritten_tips"] == git.refs(wd / "mirror.git")
    assert detail["deleted_refs"] == []
    assert set(detail["first_changed"]) <= set(detail["tips_at_scan"]) and detail["first_changed"]
    # the plan told the reviewers exactly what would change, in every number the record carries
    assert plan.summary.dump()["commits_changing"] == len(detail["old_commits"])
    assert detail["blast_radius"] == {k: plan.summary.dump()[k] for k in detail["blast_radius"]}
    assert "refs/notes/commits" in detail["blast_radius"]["refs_changing"]  # notes re-filed: predicted too
    report = json.loads((wd / "rewrite-report.json").read_text())
    assert {r: x["commits_rewritten"] for r, x in report["refs"].items() if x["commits_rewritten"]} == \
        plan.summary.dump()["refs_changing"]
    assert set(detail["first_changed"].values()) <= set(detail["old_commits"])
    assert set(detail["first_changed_commits"]) <= set(detail["old_commits"])
    for c in detail["first_changed_commits"]:  # changed, with no changed parent
        parents = git.out(["rev-list", "--parents", "-n1", c], cwd=demo.path).split()[1:]
        assert not set(parents) & set(detail["old_commits"])
    notes_root = git.out(["rev-list", "--max-parents=0", "refs/notes/commits"], cwd=demo.path)
    assert notes_root in detail["first_changed_commits"]
    for b in detail["purged_blobs"]:
        assert git.run(["cat-file", "-e", b], cwd=wd / "mirror.git", check=False).returncode != 0
    assert git.run(["cat-file", "-e", detail["purged_blobs"][0]], cwd=demo.path, check=False).returncode == 0


def test_report_lists_refs_paths_replacements_fix_in_code_and_second_opinion(
        demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    _demo, plan, wd = demo_purge
    report = json.loads((wd / "rewrite-report.json").read_text())
    assert report["verification"]["clean"] and report["verification"]["rescan"]["ran"]
    assert report["verification"]["rescan"]["planned_still_found"] == 0
    assert report["paths_removed"] == plan.paths
    assert len(report["replacements"]) == len(plan.replace)
    assert "refs/heads/main" in report["refs"] and report["refs"]["refs/heads/main"]["commits_rewritten"] > 0
    assert {f["path"] for f in report["fix_in_code"]} >= {"server/auth.ts", "server/users.ts"}
    assert report["size_kib"]["before"] > 0 and report["size_kib"]["after"] > 0
    gl = report["independent_check"]
    assert gl["tool"] == "gitleaks"
    if gl["ran"]:
        assert gl["planned_values_seen"] == 0
    md = (wd / "rewrite-report.md").read_text()
    assert "Fix in code" in md and "server/auth.ts" in md and "Independent check" in md


def test_notes_follow_their_commit_to_its_new_id(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    demo, _plan, wd = demo_purge
    mirror = wd / "mirror.git"
    old_note = git.out(["notes", "show", "refs/heads/main"], cwd=demo.path)
    new_note = git.out(["notes", "show", "refs/heads/main"], cwd=mirror)
    assert git.refs(mirror)["refs/heads/main"] != git.refs(demo.path)["refs/heads/main"]
    assert "***REMOVED***" in new_note and new_note != old_note
    assert json.loads((wd / "rewrite-report.json").read_text())["notes_refiled"] == 1


def test_rerun_after_done_is_a_no_op(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    _demo, plan, wd = demo_purge
    tips = git.refs(wd / "mirror.git")
    bundle_mtime = (wd / "backup.bundle").stat().st_mtime_ns
    result = rewrite(str(plan.path), str(wd))
    assert result.clean and git.refs(wd / "mirror.git") == tips
    assert (wd / "backup.bundle").stat().st_mtime_ns == bundle_mtime
    # The done rewrite's report is read back typed: exactly the document rewrite-report.json holds.
    assert result.report.dump() == json.loads((wd / "rewrite-report.json").read_text())
    assert result.report.plan_digest == plan.digest and result.report.verification.clean


def test_a_malformed_report_of_a_done_rewrite_is_one_line_and_exit_2(small_plan: tuple[Small, Plan],
                                                                    tmp_path: Path) -> None:
    _small, plan = small_plan
    wd = tmp_path / "wd"
    rewrite(str(plan.path), str(wd))
    doc = json.loads((wd / "rewrite-report.json").read_text())
    (wd / "rewrite-report.json").write_text(json.dumps({**doc, "verification": {"clean": "yes", "problems": []}}))
    with pytest.raises(UsageError, match=r"rewrite-report.json: malformed rewrite report \('clean' must be true"):
        rewrite(str(plan.path), str(wd))
    (wd / "rewrite-report.json").write_text("{not json")
    with pytest.raises(UsageError, match="unreadable rewrite report"):
        rewrite(str(plan.path), str(wd))


# Small repository, hand-written findings -------------------------------------------------------
@pytest.fixture
def small_plan(tmp_path: Path) -> tuple[Small, Plan]:
    small = Small(tmp_path)
    findings = small.write_findings(tmp_path / "findings.json")
    return small, make_plan(str(findings), str(tmp_path / "plan" / "plan.json"), recover=small.recover)


def test_renamed_key_is_deleted_under_every_name(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    small, plan = small_plan
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    mirror = result.mirror
    assert git.out(["log", "--all", "--format=%H", "--", "certs/key.pem", "tls/server.key"], cwd=mirror) == ""
    blobs = _all_objects(mirror)
    assert small.key.encode() not in blobs and small.jwt.encode() not in blobs and small.dsn_pw.encode() not in blobs
    auth = git.run(["show", "refs/heads/main:server/auth.ts"], cwd=mirror).stdout
    assert b"JWT_SECRET must be set in the environment" in auth and b"***REMOVED***" not in auth  # fails closed
    # the first commit is untouched, so it keeps its id
    first = git.out(["rev-list", "--max-parents=0", "refs/heads/main"], cwd=small.path)
    assert git.out(["rev-list", "--max-parents=0", "refs/heads/main"], cwd=mirror) == first


def test_resume_after_a_crash_in_filter_repo_reuses_the_clone(small_plan: tuple[Small, Plan], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _small, plan = small_plan
    wd = tmp_path / "wd"

    def crash(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sanitize.purge.rewrite._filter", crash)
    with pytest.raises(KeyboardInterrupt):
        rewrite(str(plan.path), str(wd))
    assert Workdir(wd).stage("rewrite")["step"] == "filtering"
    bundle_mtime = (wd / "backup.bundle").stat().st_mtime_ns
    monkeypatch.undo()
    # the mirror was never touched by the "crashed" filter: step is still "filtering", so it is re-cloned
    # only if it no longer matches the bundle; here it does, so the clone and bundle are reused.
    result = rewrite(str(plan.path), str(wd))
    assert result.clean
    assert (wd / "backup.bundle").stat().st_mtime_ns == bundle_mtime


def test_resume_after_a_crash_past_filter_repo_skips_to_the_rescan(small_plan: tuple[Small, Plan], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _small, plan = small_plan
    wd = tmp_path / "wd"

    def crash(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sanitize.purge.rewrite._verify", crash)
    with pytest.raises(KeyboardInterrupt):
        rewrite(str(plan.path), str(wd))
    assert Workdir(wd).stage("rewrite")["step"] == "filtered"
    tips = git.refs(wd / "mirror.git")
    cmap = (wd / "commit-map").read_text()
    monkeypatch.undo()

    def must_not_run(*a: object, **k: object) -> None:
        raise AssertionError("filter-repo ran twice")

    monkeypatch.setattr("sanitize.purge.rewrite._filter", must_not_run)
    result = rewrite(str(plan.path), str(wd))
    assert result.clean and git.refs(wd / "mirror.git") == tips and (wd / "commit-map").read_text() == cmap
    assert Workdir(wd).stage("rewrite")["status"] == "done"


def test_rerun_after_done_does_not_need_the_source_unchanged(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    small, plan = small_plan
    first = rewrite(str(plan.path), str(tmp_path / "wd"))
    small.commit("after the purge", {"late.txt": "new\n"})  # e.g. the rewritten history was pushed back
    again = rewrite(str(plan.path), str(tmp_path / "wd"))
    assert again.report == first.report


def test_a_value_that_survives_fails_verification_exit_1(tmp_path: Path) -> None:
    small = Small(tmp_path)
    # The value also names a file: --replace-text cannot reach path names, so it stays in a tree object.
    small.commit("oops", {f"notes/{small.dsn_pw}.txt": "x\n"})
    findings = small.write_findings(tmp_path / "findings.json")
    plan = make_plan(str(findings), str(tmp_path / "plan.json"), recover=small.recover)
    with pytest.raises(VerificationFailed):
        rewrite(str(plan.path), str(tmp_path / "wd"))
    detail = Workdir(tmp_path / "wd").stage("rewrite")
    assert detail["status"] == "failed"
    report = json.loads((tmp_path / "wd" / "rewrite-report.json").read_text())
    assert not report["verification"]["clean"] and report["verification"]["problems"]
    assert small.dsn_pw not in (tmp_path / "wd" / "rewrite-report.md").read_text()


# Refusals: exit 2, nothing overwritten ----------------------------------------------------------
def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()} if d.exists() else {}


def test_tampered_plan_is_refused(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    _small, plan = small_plan
    data = json.loads(plan.path.read_text())
    data["actions"]["delete_paths"] = data["actions"]["delete_paths"][:1]
    plan.path.write_text(json.dumps(data))
    proc = _cli("rewrite", str(plan.path), "--workdir", str(tmp_path / "wd"))
    assert proc.returncode == 2 and "digest" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "wd").exists()


def test_missing_plan_secrets_is_refused(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    _small, plan = small_plan
    plan.secrets_path.unlink()
    proc = _cli("rewrite", str(plan.path), "--workdir", str(tmp_path / "wd"))
    assert proc.returncode == 2 and "plan.secrets" in proc.stderr
    assert not (tmp_path / "wd").exists()


def test_plan_for_another_repository_is_refused(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    small, plan = small_plan
    other = Small(tmp_path / "elsewhere", seed=99)
    shutil.rmtree(small.path)
    shutil.copytree(other.path, small.path)  # same path, different repository
    proc = _cli("rewrite", str(plan.path), "--workdir", str(tmp_path / "wd"))
    assert proc.returncode == 2 and "another repository" in proc.stderr
    assert not (tmp_path / "wd").exists()


def test_source_moved_since_the_scan_is_refused(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    small, plan = small_plan
    small.commit("later", {"late.txt": "new\n"})
    with pytest.raises(UsageError, match="differ from the scan"):
        rewrite(str(plan.path), str(tmp_path / "wd"))
    assert not (tmp_path / "wd").exists()


def test_workdir_of_another_plan_or_foreign_files_is_refused(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    small, plan = small_plan
    wd = tmp_path / "wd"
    rewrite(str(plan.path), str(wd))
    before = _snapshot(wd)
    # a second, different plan for the same source
    report = small.findings()
    dsn_id = next(f.id for f in report.findings if f.rule == "dsn.password")
    other = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "other" / "plan.json"),
                      drop_findings=[dsn_id], recover=small.recover)
    proc = _cli("rewrite", str(other.path), "--workdir", str(wd))
    assert proc.returncode == 2 and "another plan" in proc.stderr
    assert _snapshot(wd) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("precious")
    proc = _cli("rewrite", str(plan.path), "--workdir", str(foreign))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert _snapshot(foreign) == {"keep.txt": b"precious"}


# What the rewrite cannot keep: signatures, LFS objects, gitlinks into rewritten history ---------------
def test_report_lists_dropped_signatures_orphaned_lfs_and_gitlinks(tmp_path: Path) -> None:
    small = Small(tmp_path)
    repo = small.path
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "signing")], check=True)
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={tmp_path / 'signing.pub'}",
            "-c", "user.name=T", "-c", "user.email=t@example.invalid"]
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    oid = sha256_hex(os.urandom(16))
    (repo / "dump.bin").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 42\n")
    git.run(["add", ".gitattributes", "dump.bin"], cwd=repo)
    git.run([*sign, "commit", "-q", "-S", "-m", "signed: lfs dump"], cwd=repo)
    signed_commit = small.rev("HEAD")
    git.run(["update-index", "--add", "--cacheinfo", f"160000,{small.key_commit},vendor/self"], cwd=repo)
    git.run([*sign, "commit", "-q", "-m", "gitlink into our own history"], cwd=repo)
    git.run([*sign, "tag", "-s", "v2", "-m", "signed release"], cwd=repo)
    report = small.findings()
    report.refs = git.refs(repo)
    dump_blob = small.rev("HEAD:dump.bin")
    report.findings.append(Finding("path.db-dump", "path", "dump.bin", dump_blob, signed_commit, None,
                                   sha256_hex((repo / "dump.bin").read_bytes()), "vers…", ("refs/heads/main",)))
    (tmp_path / "findings.json").write_text(report.to_json())
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "plan.json"), recover=small.recover)
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    r = result.report.dump()
    assert signed_commit in r["signatures_dropped"]["commits"]
    assert [t["ref"] for t in r["signatures_dropped"]["tags"]] == ["refs/tags/v2"]
    assert f"sha256:{oid}" in r["lfs_objects_orphaned"]
    assert [(g["path"], g["target"]) for g in r["submodule_gitlinks_into_rewritten_history"]] == [
        ("vendor/self", small.key_commit)]
    md = (tmp_path / "wd" / "rewrite-report.md").read_text()
    assert "Signed tags whose signature was dropped: 1" in md and "LFS objects orphaned: 1" in md


# CLI ------------------------------------------------------------------------------------------
def test_cli_scan_plan_rewrite_with_custom_rules(tmp_path: Path) -> None:
    import random
    import string

    rng = random.Random(5)
    licence = "ACME-" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    (repo / "licence.txt").write_text(f"key = {licence}\n")
    git.run(["add", "."], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "licence"], cwd=repo)
    rules = tmp_path / "rules.yml"
    rules.write_text("rules:\n  - id: acme.license\n    regex: 'ACME-([A-Z0-9]{16})'\n    keywords: ['ACME-']\n")
    scan = _cli("scan", str(repo), "--rules", str(rules), "--format", "json", "-o", str(tmp_path / "f.json"))
    assert scan.returncode in (0, 1), scan.stderr
    plan = _cli("plan", str(tmp_path / "f.json"), "-o", str(tmp_path / "plan.json"), "--rules", str(rules))
    assert plan.returncode == 0, plan.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["rules"] == str(rules.resolve())
    proc = _cli("rewrite", "plan.json", "--workdir", "wd", cwd=tmp_path)  # relative paths
    assert proc.returncode == 0, proc.stderr
    assert "verification clean" in proc.stdout
    for out in (scan, plan, proc):
        assert licence not in out.stdout + out.stderr and licence[5:] not in out.stdout + out.stderr
    report = json.loads((tmp_path / "wd" / "rewrite-report.json").read_text())
    assert report["verification"]["rescan"]["ran"] and "acme.license" not in report["verification"]["rescan"]["rules"]
    assert licence[5:].encode() not in _all_objects(tmp_path / "wd" / "mirror.git")


def test_cli_rewrite_exit_1_when_a_value_survives(tmp_path: Path) -> None:
    small = Small(tmp_path)
    small.commit("oops", {f"notes/{small.jwt}.txt": "x\n"})
    findings = small.write_findings(tmp_path / "findings.json")
    plan = make_plan(str(findings), str(tmp_path / "plan.json"), recover=small.recover)
    proc = _cli("rewrite", str(plan.path), "--workdir", str(tmp_path / "wd"))
    assert proc.returncode == 1 and "verification failed" in proc.stderr and "Traceback" not in proc.stderr
    assert small.jwt not in proc.stdout + proc.stderr


def test_baseline_still_suppresses_accepted_findings_after_the_rewrite(tmp_path: Path) -> None:
    small = Small(tmp_path)
    report = scan_repository(str(small.path))
    (tmp_path / "findings.json").write_text(report.to_json())
    accepted = [f for f in report.findings if f.secret_sha256 == sha256_hex(small.dsn_pw)]
    assert accepted  # the scan reports the DSN; the reviewer accepts it (e.g. a test database)
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "plan.json"),
                     drop_findings=[f.id for f in accepted])
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    # The accepted value stays in history, now in rewritten commits with new ids ...
    again = scan_repository(str(result.mirror))
    assert any(f.secret_sha256 == sha256_hex(small.dsn_pw) for f in again.findings)
    assert {f.commit for f in again.findings if f.secret_sha256 == sha256_hex(small.dsn_pw)}.isdisjoint(
        {f.commit for f in accepted})
    # ... and the original findings file, used as a baseline, still suppresses it.
    quiet = scan_repository(str(result.mirror), baseline=str(tmp_path / "findings.json"))
    assert not any(f.secret_sha256 == sha256_hex(small.dsn_pw) for f in quiet.findings)


def test_url_source_is_cloned_for_plan_and_rewrite(tmp_path: Path) -> None:
    small = Small(tmp_path)
    bare = tmp_path / "remote.git"
    git.run(["clone", "-q", "--mirror", str(small.path), str(bare)])
    report = small.findings()
    report.source = bare.resolve().as_uri()
    (tmp_path / "findings.json").write_text(report.to_json())
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "plan.json"), recover=small.recover)
    assert plan.source.startswith("file://") and plan.paths == ["certs/key.pem", "tls/server.key"]
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    assert result.clean and small.jwt.encode() not in _all_objects(result.mirror)
    assert git.refs(bare) == report.refs  # the source itself is never touched


def test_awkward_path_names_are_deleted_exactly(tmp_path: Path) -> None:
    import random
    import string

    rng = random.Random(11)
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    names = ["odd==>name.pem", "multi\nline.key", "# hash.pem", " lead space.pem", ":colon.pem", "dir/ünï.pem",
             'quote".pem']
    keep = {"odd": "decoy\n", "multi": "decoy\n", "dir/ünï.pem.txt": "decoy\n", "odd==>name.pem.bak": "decoy\n"}
    keys = {n: "".join(rng.choice(string.ascii_letters) for _ in range(48)) + "\n" for n in names}
    for name, content in {**keys, **keep}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content, encoding="utf-8")
    git.run(["add", "-A"], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "awkward"], cwd=repo)
    head = git.out(["rev-parse", "HEAD"], cwd=repo)
    tree = _tree_files(repo, "HEAD")
    findings = [Finding("path.private-key", "path", n, tree[n], head, None, sha256_hex(keys[n]), "…",
                        ("refs/heads/main",)) for n in names]
    (tmp_path / "f.json").write_text(ScanReport(str(repo), git.refs(repo), findings=findings).to_json())
    plan = make_plan(str(tmp_path / "f.json"), str(tmp_path / "plan.json"), recover=lambda r, fs: {})
    assert sorted(plan.paths) == sorted(names)
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    after = _tree_files(result.mirror, "refs/heads/main")
    assert set(after) == set(keep)
    objects = _all_objects(result.mirror)
    assert not any(k.encode() in objects for k in keys.values())


def test_a_plan_with_nothing_to_do_keeps_every_id(small_plan: tuple[Small, Plan], tmp_path: Path) -> None:
    small, _plan = small_plan
    report = small.findings()
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "empty" / "plan.json"),
                     drop_findings=[f.id for f in report.findings], recover=small.recover)
    assert not plan.paths and not plan.planned_sha256s
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    assert result.clean and git.refs(result.mirror) == git.refs(small.path)
    detail = Workdir(tmp_path / "wd").stage("rewrite")
    assert detail["old_commits"] == [] and detail["first_changed"] == {} and detail["purged_blobs"] == []


def test_the_second_opinion_reads_exactly_the_rewritten_commits(demo_purge: tuple[DemoRepo, Plan, Path]) -> None:
    # Unchanged commits are the original's, object for object (the direct search covers them):
    # gitleaks is given the range of the commits the rewrite made, new tips minus the unchanged boundary.
    _demo, _plan, wd = demo_purge
    report = json.loads((wd / "rewrite-report.json").read_text())
    inventory = json.loads((wd / "rewrite-inventory.json").read_text())
    scope = _rewritten_range(report, inventory)
    assert scope
    listed = set(git.out(["rev-list", *scope], cwd=wd / "mirror.git").split())
    rows = [line.split() for line in (wd / "commit-map").read_text().splitlines()[1:]]
    assert listed == {new for old, new in rows if old != new}
    assert len(listed) < len(rows)
    if report["independent_check"]["ran"]:
        assert report["independent_check"]["scope"] == "rewritten commits"


def test_the_direct_search_reads_what_the_rewrite_made_and_still_finds_a_value(
        demo_purge: tuple[DemoRepo, Plan, Path], tmp_path: Path) -> None:
    # The inventory read every original object in full: verification reads only the new objects (and any
    # original one that held a value), which is the same as reading every object.
    demo, _plan, wd = demo_purge
    inventory = json.loads((wd / "rewrite-inventory.json").read_text())
    mirror = wd / "mirror.git"
    wanted, total = _to_search(mirror, inventory)
    assert wanted is not None and 0 < len(wanted) < total
    new = set(git.objects.check_all(mirror)) - set(inventory["blobs"]) - set(inventory["non_blobs"])
    assert set(wanted) == new  # every value holder of the original is gone
    assert inventory["value_holders"] and not set(inventory["value_holders"]) & set(git.objects.check_all(mirror))
    report = json.loads((wd / "rewrite-report.json").read_text())
    assert report["verification"]["objects_read"] == len(wanted)
    assert report["verification"]["objects_in_mirror"] == total

    copy = tmp_path / "wd"
    shutil.copytree(wd, copy, symlinks=True)
    value = next(p.value for p in demo.planted if p.kind != "path")
    git.run(["hash-object", "-w", "--stdin"], cwd=copy / "mirror.git", input=f"x = {value!r}\n".encode())
    result = _verify(load_plan(str(copy / "plan.json")), Workdir.open(copy), rules_file=None, inventory=inventory)
    assert not result["clean"]
    assert any("still in an object" in p for p in result["problems"])
    # An original object that held a value, were it still here, is read as well.
    holder = inventory["value_holders"][0]
    assert holder in (_to_search(demo.path, inventory)[0] or [])


def test_the_rescan_reads_only_rewritten_objects_with_the_scans_cache(tmp_path: Path) -> None:
    # scan --cache, then rewrite --cache: the rescan takes every unchanged object from the scan's cache and
    # still finds what the rules find on the rewritten history (the same findings as an uncached rescan).
    demo = build_demo_repo(tmp_path / "demo", seed=7)
    cache = tmp_path / "scan-cache.json"
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(demo.path), "--format", "json",
                           "-o", str(tmp_path / "findings.json"), "--cache", str(cache)],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 1, proc.stderr
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "plan.json"))
    cached = rewrite(str(plan.path), str(tmp_path / "wd-cached"), scan_cache=str(cache))
    plain = rewrite(str(plan.path), str(tmp_path / "wd-plain"))
    with_cache, without = cached.report.verification.rescan, plain.report.verification.rescan
    assert with_cache["objects_from_cache"] > 0 and without["objects_from_cache"] == 0
    assert with_cache["objects_read"] < without["objects_read"]
    assert {k: with_cache[k] for k in ("findings", "rules", "summary", "remaining")} == \
        {k: without[k] for k in ("findings", "rules", "summary", "remaining")}
