"""plan: findings → a reviewable plan (plan.json without values, plan.secrets 0600, plan.md, digest)."""

from __future__ import annotations

import json
import os
import random
import stat
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize import git
from sanitize.errors import UsageError
from sanitize.purge.plan import load_plan, make_plan, parse_secret_line, secret_line
from sanitize.scan.report import Finding, ScanReport
from sanitize.secret import Secret, preview_of, sha256_hex

ALNUM = string.ascii_letters + string.digits


# A small repository with hand-written findings (independent of the scan engine) ------------
class Small:
    """A work-tree repo with a key file that is later renamed and changed, a DSN, and a fallback default."""

    def __init__(self, root: Path, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.path = root / "small"
        self.jwt = "".join(rng.choice(ALNUM) for _ in range(32))
        self.dsn_pw = "".join(rng.choice(ALNUM) for _ in range(24))
        self.key = "-----BEGIN " + "PRIVATE KEY-----\n" + "".join(rng.choice(ALNUM) for _ in range(300)) + \
            "\n-----END " + "PRIVATE KEY-----\n"
        git.run(["init", "-q", "-b", "main", str(self.path)])
        self.commit("init", {"README.md": "# small\n", "docs/decoy.md": "user:password@localhost\n"})
        self.commit("auth", {"server/auth.ts": f'export const s = process.env.JWT_SECRET || "{self.jwt}";\n'})
        self.commit("key", {"certs/key.pem": self.key})
        self.key_blob = self.rev("HEAD:certs/key.pem")
        self.key_commit = self.rev("HEAD")
        (self.path / "tls").mkdir()
        git.run(["mv", "certs/key.pem", "tls/server.key"], cwd=self.path)
        self.commit("move key", {"tls/server.key": self.key + "# rotated?\n"})
        self.commit("db", {"config/db.yml": f"url: postgres://app:{self.dsn_pw}@db.internal/app\n"})
        git.run(["branch", "side", "HEAD~1"], cwd=self.path)
        git.run(["tag", "v1", "HEAD"], cwd=self.path)

    def commit(self, msg: str, files: dict[str, str]) -> str:
        for name, content in files.items():
            p = self.path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content, encoding="utf-8")
        git.run(["add", "-A"], cwd=self.path)
        git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", msg], cwd=self.path,
                env={"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"})
        return self.rev("HEAD")

    def rev(self, what: str) -> str:
        return git.out(["rev-parse", what], cwd=self.path)

    @property
    def values(self) -> dict[str, str]:
        return {sha256_hex(v): v for v in (self.jwt, self.dsn_pw, self.key)}

    def findings(self) -> ScanReport:
        p = self.path
        auth_blob = self.rev("HEAD:server/auth.ts")
        db_blob = self.rev("HEAD:config/db.yml")
        fs = [
            Finding("path.private-key", "path", "certs/key.pem", self.key_blob, self.key_commit, None,
                    sha256_hex(self.key), preview_of(self.key), ("refs/heads/main",)),
            Finding("default.jwt-secret", "content", "server/auth.ts", auth_blob, self.rev("HEAD~3"), 1,
                    sha256_hex(self.jwt), preview_of(self.jwt), ("refs/heads/main",)),
            Finding("dsn.password", "content", "config/db.yml", db_blob, self.rev("HEAD"), 1,
                    sha256_hex(self.dsn_pw), preview_of(self.dsn_pw), ("refs/heads/main",)),
        ]
        return ScanReport(source=str(p.resolve()), refs=git.refs(p), findings=fs)

    def recover(self, _repo: str, findings: object) -> dict[str, Secret]:
        return {f.id: Secret(self.values[f.secret_sha256]) for f in findings}  # type: ignore[attr-defined]

    def write_findings(self, dest: Path) -> Path:
        dest.write_text(self.findings().to_json(), encoding="utf-8")
        return dest


@pytest.fixture
def small(tmp_path: Path) -> Small:
    return Small(tmp_path)


def _plan(small: Small, tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    findings = small.write_findings(tmp_path / "findings.json")
    return make_plan(str(findings), str(tmp_path / "out" / "plan.json"), recover=small.recover, **kw)


# plan.secrets lines ---------------------------------------------------------------------
@given(st.text(min_size=1).filter(lambda s: s.strip() == s and s))
@settings(max_examples=200, deadline=None)
def test_secret_line_round_trips_any_value(value: str) -> None:
    line = secret_line(value)
    assert line.endswith(b"==>***REMOVED***\n") and line.count(b"\n") == 1
    assert parse_secret_line(line).reveal() == value


def test_secret_line_regex_matches_multiline_value_literally() -> None:
    import re

    value = "a.b*c\n(d)==>e"
    line = secret_line(value)
    assert line.startswith(b"regex:")
    pattern = line[len(b"regex:"):].rsplit(b"==>", 1)[0]
    assert re.search(pattern, b"x" + value.encode() + b"y") and not re.search(pattern, b"aXb*c\n(d)==>e")


# make_plan ------------------------------------------------------------------------------
def test_plan_files_hold_no_value_and_secrets_are_private(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    assert stat.S_IMODE(plan.secrets_path.stat().st_mode) == 0o600
    for f in (plan.path, plan.markdown_path):
        text = f.read_text(encoding="utf-8")
        for v in small.values.values():
            assert v not in text and v[:12] not in text
    data = json.loads(plan.path.read_text())
    assert data["schema"] == "git-sanitize/plan/v1" and data["tips"] == git.refs(small.path)
    assert set(data["actions"]) == {"delete_paths", "replace", "messages"}
    assert {r["secret_sha256"] for r in data["actions"]["replace"]} == {sha256_hex(small.jwt), sha256_hex(small.dsn_pw)}
    assert sorted(s.reveal() for s in load_plan(plan.path).secret_values()) == sorted([small.jwt, small.dsn_pw])
    assert "Digest" in plan.markdown_path.read_text() and plan.digest in plan.markdown_path.read_text()


def test_deletion_follows_the_blob_through_renames(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    assert plan.paths == ["certs/key.pem", "tls/server.key"]
    found = {d.path: d.found for d in plan.delete_paths}
    assert found["tls/server.key"] == "renamed from certs/key.pem"


def test_fix_in_code_names_file_and_line_at_branch_tips(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    assert {(f.path, f.line, f.ref) for f in plan.fix_in_code} == {
        ("server/auth.ts", 1, "refs/heads/main"), ("server/auth.ts", 1, "refs/heads/side")}
    assert "server/auth.ts" in plan.markdown_path.read_text()


def test_summary_counts_changing_commits_per_ref(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    s = plan.summary.dump()
    # init is untouched; auth (value), key, move, db all change.
    assert s["commits_total"] == 5 and s["commits_changing"] == 4
    assert s["refs_changing"] == {"refs/heads/main": 4, "refs/heads/side": 3, "refs/tags/v1": 4}


def test_a_plan_reads_back_typed_as_exactly_the_document_it_wrote(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    loaded = load_plan(plan.path)
    assert loaded == plan and loaded.summary.held_back_values == 0 and loaded.fail_closed is not None
    assert loaded.to_dict() == json.loads(plan.path.read_text())  # every section typed, nothing added or lost


def test_keep_path_and_drop_change_the_plan_and_the_digest(small: Small, tmp_path: Path) -> None:
    full = _plan(small, tmp_path)
    report = small.findings()
    dsn_id = next(f.id for f in report.findings if f.rule == "dsn.password")
    kept = _plan(small, tmp_path, keep_paths=["tls/server.key"], drop_findings=[dsn_id])
    assert kept.paths == ["certs/key.pem"]
    assert {r.secret_sha256 for r in kept.replace} == {sha256_hex(small.jwt)}
    assert kept.summary.kept_paths == ("tls/server.key",) and kept.summary.dropped_findings == (dsn_id,)
    assert kept.digest != full.digest
    assert "tls/server.key" in kept.markdown_path.read_text()


def test_unknown_keep_path_or_drop_id_is_a_usage_error(small: Small, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--drop"):
        _plan(small, tmp_path, drop_findings=["0123456789abcdef"])
    with pytest.raises(UsageError, match="--keep-path"):
        _plan(small, tmp_path, keep_paths=["README.md"])


def test_unrecoverable_value_is_refused_with_the_way_out(small: Small, tmp_path: Path) -> None:
    findings = small.write_findings(tmp_path / "findings.json")
    with pytest.raises(UsageError, match="--drop"):
        make_plan(str(findings), str(tmp_path / "plan.json"), recover=lambda repo, fs: {})


# load_plan refusals ---------------------------------------------------------------------
def test_load_plan_refuses_an_edited_plan(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    data = json.loads(plan.path.read_text())
    data["actions"]["delete_paths"] = []
    plan.path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="digest"):
        load_plan(plan.path)


def test_load_plan_refuses_edited_or_missing_secrets(small: Small, tmp_path: Path) -> None:
    plan = _plan(small, tmp_path)
    original = plan.secrets_path.read_bytes()
    plan.secrets_path.write_bytes(original.replace(b"literal:", b"literal:x", 1))
    with pytest.raises(UsageError, match="digest"):
        load_plan(plan.path)
    plan.secrets_path.write_bytes(original)
    os.chmod(plan.secrets_path, 0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        load_plan(plan.path)
    plan.secrets_path.unlink()
    with pytest.raises(UsageError, match="missing"):
        load_plan(plan.path)


# CLI ------------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def test_cli_plan_bad_findings_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text("{not json")
    proc = _cli("plan", str(tmp_path / "f.json"), "-o", str(tmp_path / "plan.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "plan.json").exists()


def test_cli_plan_on_the_story_repo_with_the_scan_engine(story_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sanitize.scan.engine import scan_repository

    report = scan_repository(str(story_repo.path))
    (tmp_path / "findings.json").write_text(report.to_json())
    missing = _cli("plan", str(tmp_path / "findings.json"), "-o", str(tmp_path / "review" / "plan.json"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and not (tmp_path / "review").exists()
    inside = subprocess.run([sys.executable, "-m", "sanitize.cli", "plan", str(tmp_path / "findings.json")],
                            cwd=story_repo.path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert inside.returncode == 2 and "work tree" in inside.stderr and not (story_repo.path / "plan.json").exists()
    (tmp_path / "review").mkdir()
    proc = _cli("plan", str(tmp_path / "findings.json"), "-o", str(tmp_path / "review" / "plan.json"))
    assert proc.returncode == 0, proc.stderr
    plan = load_plan(tmp_path / "review" / "plan.json")
    out = proc.stdout + proc.stderr + plan.path.read_text() + plan.markdown_path.read_text()
    for p in story_repo.planted:
        if p.kind != "path":
            assert p.value not in out
        for line in p.value.splitlines():  # a key file's body lines
            if len(line) >= 40 and " " not in line:
                assert line not in out
    planted_paths = {p.path for p in story_repo.planted if p.action == "delete-path"}
    assert planted_paths <= set(plan.paths)
    replaced = {p.sha256 for p in story_repo.planted if p.action == "replace"}
    assert replaced <= plan.planned_sha256s
    assert {f.path for f in plan.fix_in_code} >= {"server/auth.ts", "server/users.ts"}


# Scan → plan through the real engine: every finding the scan reports has a recoverable value --------
def test_plan_recovers_values_of_path_restricted_rules(tmp_path: Path) -> None:
    """``password: <value>`` in YAML/INI/properties fires only at a config path; the plan re-detects it there."""
    from sanitize.scan.engine import scan_repository

    rng = random.Random(11)
    values = ["".join(rng.choice(ALNUM) for _ in range(20)) + "9aZ" for _ in range(3)]
    repo = tmp_path / "cfg"
    git.run(["init", "-q", "-b", "main", str(repo)])
    files = {"config/app.yml": f"db:\n  password: {values[0]}\n", "conf/app.ini": f"[db]\npassword = {values[1]}\n",
             "src/main/resources/app.properties": f"spring.datasource.password={values[2]}\n"}
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git.run(["add", "-A"], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "cfg"], cwd=repo)
    # The same blob under a second name: the scan sees one name, the finding may name the other.
    (repo / "deploy").mkdir()
    git.run(["mv", "config/app.yml", "deploy/prod.yaml"], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "mv"], cwd=repo)
    report = scan_repository(str(repo), jobs=1)
    found = {f.secret_sha256 for f in report.findings}
    assert {sha256_hex(v) for v in values} <= found
    findings_path = tmp_path / "findings.json"
    findings_path.write_text(report.to_json(), encoding="utf-8")
    plan = make_plan(str(findings_path), str(tmp_path / "out" / "plan.json"))
    secrets = (tmp_path / "out" / "plan.secrets").read_text(encoding="utf-8")
    assert all(v in secrets for v in values)
    assert plan.digest
