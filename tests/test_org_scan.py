"""An organisation scan: many generated repositories sharing a leaked value, scanned, sharded, merged."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sanitize import git
from sanitize.errors import UsageError
from sanitize.scan import org
from sanitize.scan.org_templates import render, shard_script
from sanitize.scan.repolist import load_repo_list, parse_shard
from sanitize.scan.report import ScanReport
from sanitize.secret import sha256_hex
from tests.plugins.installed_wheel import InstalledWheel

ALNUM = string.ascii_letters + string.digits
BIN = Path(sys.executable).parent  # the git-sanitize console script the templates call
ENV = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "T",
       "GIT_COMMITTER_EMAIL": "t@example.test"}


def fake_token(rng: random.Random) -> str:
    return "gh" + "p_" + "".join(rng.choice(ALNUM) for _ in range(36))


def make_repo(path: Path, files: dict[str, str]) -> Path:
    git.run(["init", "-q", "-b", "main", str(path)])
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git.run(["add", "-A"], cwd=path)
    git.run(["commit", "-q", "-m", "initial"], cwd=path, env=ENV)
    return path


@pytest.fixture
def org_repos(tmp_path: Path) -> tuple[list[Path], str, str]:
    """Seven repositories: five hold one shared token (at different paths), one its own token, one is clean."""
    rng = random.Random(1616)
    shared, own = fake_token(rng), fake_token(rng)
    repos = []
    for i in range(5):
        repos.append(make_repo(tmp_path / "org" / f"service-{i}", {f"src/m{i}/settings.py": f'TOKEN = "{shared}"\n',
                                                                   "README.md": f"service {i}\n"}))
    repos.append(make_repo(tmp_path / "org" / "lonely", {"deploy.py": f'KEY = "{own}"\n'}))
    repos.append(make_repo(tmp_path / "org" / "clean", {"README.md": "nothing here\n"}))
    return repos, shared, own


def write_list(tmp_path: Path, lines: list[str]) -> Path:
    listing = tmp_path / "repos.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_shared_value_is_one_credential_in_five_repositories(tmp_path: Path,
                                                             org_repos: tuple[list[Path], str, str]) -> None:
    repos, shared, own = org_repos
    listing = write_list(tmp_path, ["# the organisation", *[str(r) for r in repos], ""])
    out = tmp_path / "out"
    proc = run_cli("scan", "--repos", str(listing), "--out-dir", str(out), "--jobs", "2")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((out / "org.json").read_text())
    assert doc["complete"] and doc["summary"]["repos"] == 7 and doc["summary"]["failed"] == 0
    by_sha = {c["secret_sha256"]: c for c in doc["credentials"]}
    top = by_sha[sha256_hex(shared.encode())]
    assert top["repo_count"] == 5
    assert doc["credentials"][0]["secret_sha256"] == top["secret_sha256"]  # the most shared value comes first
    assert sorted(r["source"] for r in top["repos"]) == sorted(str(r) for r in repos[:5])
    assert {p for r in top["repos"] for p in r["paths"]} == {f"src/m{i}/settings.py" for i in range(5)}
    assert by_sha[sha256_hex(own.encode())]["repo_count"] == 1
    assert doc["summary"]["shared_values"] == 1
    # Each repository's findings file is a normal one, the shared value in it.
    for rec in doc["repos"]:
        report = ScanReport.load(out / rec["file"])
        assert report.source == rec["source"]
        assert (sha256_hex(shared.encode()) in {f.secret_sha256 for f in report.findings}) == (rec["index"] < 5)
        assert (out / rec["file"]).stat().st_mode & 0o777 == 0o600
    # Never a value, anywhere: stdout, stderr, the report, the summary, the findings files.
    texts = [proc.stdout, proc.stderr] + [p.read_text() for p in out.rglob("*.json")] + [(out / "org.md").read_text()]
    assert not any(v in t for v in (shared, own) for t in texts)
    assert "5 histories" in proc.stdout and "rotate once" in (out / "org.md").read_text()


def test_shards_as_separate_processes_merge_to_the_unsharded_report(
        tmp_path: Path, org_repos: tuple[list[Path], str, str]) -> None:
    repos, shared, _ = org_repos
    listing = write_list(tmp_path, [str(r) for r in repos])
    whole = tmp_path / "whole"
    assert run_cli("scan", "--repos", str(listing), "--out-dir", str(whole), "--jobs", "1").returncode == 1
    # Three shards at once, each its own process, the index from the environment as in a Kubernetes Job.
    shared_dir = tmp_path / "volume"
    procs = [subprocess.Popen(["/bin/sh", "-c", shard_script(1)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "REPOS": str(listing), "OUT": str(shared_dir), "SHARDS": "3",
                                   "JOB_COMPLETION_INDEX": str(k), "PATH": f"{BIN}:{os.environ['PATH']}"})
             for k in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0], [p.stderr.read() for p in procs if p.stderr]
    # findings (exit 1) are no failure of a shard
    merged_dir = tmp_path / "report"
    proc = run_cli("org", "merge", str(shared_dir), "-o", str(merged_dir))
    assert proc.returncode == 1, proc.stderr
    a = json.loads((whole / "org.json").read_text())
    b = json.loads((merged_dir / "org.json").read_text())
    assert b["shards"] == 3 and b["complete"]
    assert [c["secret_sha256"] for c in a["credentials"]] == [c["secret_sha256"] for c in b["credentials"]]
    assert b["credentials"][0]["repo_count"] == 5
    assert b["credentials"][0]["secret_sha256"] == sha256_hex(shared.encode())
    assert a["summary"] == b["summary"]


def test_a_missing_shard_is_reported_incomplete_never_clean(tmp_path: Path,
                                                           org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    clean_only = [repos[-1]] * 1 + [make_repo(tmp_path / "also-clean", {"a.txt": "x\n"})]
    listing = write_list(tmp_path, [str(r) for r in clean_only])
    out = tmp_path / "out"
    proc = run_cli("scan", "--repos", str(listing), "--shard", "0/2", "--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("org", "merge", str(out), "-o", str(out))
    assert proc.returncode == 2
    assert "incomplete" in proc.stderr and "Traceback" not in proc.stderr
    doc = json.loads((out / "org.json").read_text())
    assert doc["missing_shards"] == [1] and not doc["complete"]
    # Both shards: complete and clean.
    assert run_cli("scan", "--repos", str(listing), "--shard", "1/2", "--out-dir", str(out)).returncode == 0
    assert run_cli("org", "merge", str(out), "-o", str(out)).returncode == 0


def test_a_repository_that_cannot_be_scanned_is_visible_and_fails_the_run(
        tmp_path: Path, org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    token = "".join(random.Random(7).choice(ALNUM) for _ in range(20))
    listing = write_list(tmp_path, [str(repos[-1]), f"https://ci-bot:{token}@127.0.0.1:9/org/gone.git",
                                    str(tmp_path / "no-such-repo")])
    out = tmp_path / "out"
    proc = run_cli("scan", "--repos", str(listing), "--out-dir", str(out))
    assert proc.returncode == 2
    doc = json.loads((out / "org.json").read_text())
    failed = [r for r in doc["repos"] if r["status"] == "error"]
    assert len(failed) == 2 and all(r["error"] for r in failed)
    assert "https://***@127.0.0.1:9/org/gone.git" in {r["source"] for r in failed}
    everything = proc.stdout + proc.stderr + "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert token not in everything
    assert "not scanned" in proc.stdout


def test_a_killed_worker_is_each_repositorys_error_not_a_crash(tmp_path: Path,
                                                              org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    listing = write_list(tmp_path, [str(r) for r in repos[:3]])
    out = tmp_path / "out"
    proc = run_cli("scan", "--repos", str(listing), "--out-dir", str(out), "--jobs", "2",
                   env={"GIT_SANITIZE_FAULT_AT": "scan:repository"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    doc = json.loads((out / "org.json").read_text())
    assert [r["status"] for r in doc["repos"]] == ["error"] * 3
    assert all("process died" in r["error"] for r in doc["repos"]) and not doc["complete"]


def test_a_shard_killed_mid_run_leaves_no_stale_shard_file(tmp_path: Path,
                                                           org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    listing = write_list(tmp_path, [str(repos[-1]), str(make_repo(tmp_path / "clean-2", {"a.txt": "a\n"}))])
    out = tmp_path / "vol"
    for k in (0, 1):
        assert run_cli("scan", "--repos", str(listing), "--shard", f"{k}/2", "--out-dir", str(out)).returncode == 0
    assert run_cli("org", "merge", str(out), "-o", str(out)).returncode == 0
    # The next run of shard 1 dies (a power cut): the merge must not take the last run's file for it.
    proc = run_cli("scan", "--repos", str(listing), "--shard", "1/2", "--out-dir", str(out), "--jobs", "1",
                   env={"GIT_SANITIZE_FAULT_AT": "scan:repository"})
    assert proc.returncode == -9
    proc = run_cli("org", "merge", str(out), "-o", str(out))
    assert proc.returncode == 2
    assert json.loads((out / "org.json").read_text())["missing_shards"] == [1]


@pytest.mark.parametrize("line, why", [
    ("repo\x1b[2Jevil", "control"),
    ("good\u202eevil", "control"),
    ("--upload-pack=touch /tmp/x", "starts with '-'"),
    ("ext::sh -c touch% /tmp/pwned", "remote-helper"),
    ("gopher://example.test/x", "not allowed"),
])
def test_hostile_list_entries_stop_before_anything_runs(tmp_path: Path, line: str, why: str) -> None:
    listing = write_list(tmp_path, ["# fine", "/srv/a", line])
    proc = run_cli("scan", "--repos", str(listing), "--out-dir", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and why in proc.stderr and ":3:" in proc.stderr
    assert "evil" not in proc.stderr and "pwned" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_list_rules(tmp_path: Path, org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    with pytest.raises(UsageError, match="names no repository"):
        load_repo_list(write_list(tmp_path, ["# only a comment", ""]))
    with pytest.raises(UsageError, match="same repository"):
        load_repo_list(write_list(tmp_path, [str(repos[0]), str(repos[0])]))
    # Relative paths are the list file's neighbours; a directory lists the repositories in it.
    rel = load_repo_list(write_list(tmp_path, ["org/clean"]))
    assert rel.entries[0].location == str(repos[-1].resolve())
    listed = load_repo_list(tmp_path / "org")
    assert sorted(e.location for e in listed.entries) == sorted(str(r.resolve()) for r in repos)
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "x/2", "1/0", "-1/3"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_merge_refuses_shards_of_different_lists(tmp_path: Path, org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    a, b = tmp_path / "a", tmp_path / "b"
    org.scan_repos(load_repo_list(write_list(tmp_path, [str(r) for r in repos[:2]])), a, shard=(0, 2), jobs=1)
    other = tmp_path / "other.txt"
    other.write_text("\n".join(str(r) for r in repos[2:4]) + "\n")
    org.scan_repos(load_repo_list(other), b, shard=(1, 2), jobs=1)
    with pytest.raises(UsageError, match="different lists"):
        org.merge([a, b])


def test_directory_of_repositories_is_a_list(tmp_path: Path, org_repos: tuple[list[Path], str, str]) -> None:
    proc = run_cli("scan", "--repos", str(tmp_path / "org"), "--out-dir", str(tmp_path / "out"), "-q")
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads((tmp_path / "out" / "org.json").read_text())["credentials"][0]["repo_count"] == 5


def test_repos_options_go_together(tmp_path: Path) -> None:
    for args in (["--repos", "x.txt"], ["--out-dir", str(tmp_path)], ["--repos", "x", "--out-dir", "y", "-o", "z"]):
        proc = run_cli("scan", *args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", ["k8s", "github"])
def test_templates_drive_the_same_shard_and_merge_commands(kind: str) -> None:
    text = render(kind, shards=4, jobs=3, image="registry.test/git-sanitize:1")
    docs = list(yaml.safe_load_all(text))
    if kind == "k8s":
        scan_job, merge_job = docs
        assert scan_job["spec"]["completionMode"] == "Indexed" and scan_job["spec"]["completions"] == 4
        pod = scan_job["spec"]["template"]["spec"]
        assert pod["containers"][0]["command"] == ["/bin/sh", "-c", shard_script(3)]
        assert pod["containers"][0]["image"] == "registry.test/git-sanitize:1"
        env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
        assert env["SHARDS"] == "4" and env["GIT_CONFIG_KEY_0"] == "safe.directory"
        merge = merge_job["spec"]["template"]["spec"]["containers"][0]["command"]
        assert merge[:3] == ["git-sanitize", "org", "merge"] and merge[3] == env["OUT"]
        claims = {v["name"]: v for v in pod["volumes"]}
        assert claims["findings"]["persistentVolumeClaim"]["claimName"] == "git-sanitize-findings"
    else:
        (workflow,) = docs
        shard = workflow["jobs"]["shard"]
        assert shard["strategy"]["matrix"]["shard"] == [0, 1, 2, 3]
        assert shard["env"]["SHARDS"] == "4"
        assert any(s.get("run") == shard_script(3) for s in shard["steps"])
        assert any("git-sanitize org merge" in s.get("run", "") for s in workflow["jobs"]["merge"]["steps"])
        assert workflow["jobs"]["merge"]["needs"] == "shard"


def test_template_cli_and_bad_image() -> None:
    proc = run_cli("org", "template", "k8s", "--shards", "2")
    assert proc.returncode == 0 and "completionMode: Indexed" in proc.stdout
    proc = run_cli("org", "template", "k8s", "--image", "a b")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


def test_the_installed_wheel_ships_the_templates_and_scans_an_organisation(
        installed_wheel: InstalledWheel, tmp_path: Path, org_repos: tuple[list[Path], str, str]) -> None:
    repos, _, _ = org_repos
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{installed_wheel.bin}{os.pathsep}{env['PATH']}"
    exe = str(installed_wheel.bin / "git-sanitize")
    for kind in ("k8s", "github"):
        proc = subprocess.run([exe, "org", "template", kind], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert list(yaml.safe_load_all(proc.stdout))
    listing = write_list(tmp_path, [str(r) for r in repos])
    for _ in range(2):  # the second run reads each repository's cache, made by the installed copy
        proc = subprocess.run([exe, "scan", "--repos", str(listing), "--out-dir", str(tmp_path / "out"), "-q"],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        doc = json.loads((tmp_path / "out" / "org.json").read_text())
        assert doc["credentials"][0]["repo_count"] == 5
    assert len(list((tmp_path / "out" / "cache").iterdir())) == len(repos)
