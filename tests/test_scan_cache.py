"""The scan cache: a repeated scan reads only new objects and still reports every finding, located anew."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.story_repo import DemoRepo
from sanitize import git
from sanitize.scan.cache import ScanCache
from sanitize.scan.engine import scan_repository
from sanitize.scan.report import ScanReport

ALNUM = string.ascii_letters + string.digits


def fake_token(rng: random.Random) -> str:
    """A GitHub-token-shaped fake, assembled at run time."""
    return "gh" + "p_" + "".join(rng.choice(ALNUM) for _ in range(36))


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
        git.run(["add", "--", rel], cwd=repo)
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "T",
           "GIT_COMMITTER_EMAIL": "t@example.test"}
    git.run(["commit", "-q", "--allow-empty", "-m", message], cwd=repo, env=env)
    return git.out(["rev-parse", "HEAD"], cwd=repo).strip()


def new_repo(path: Path) -> Path:
    git.run(["init", "-q", "-b", "main", str(path)])
    return path


def comparable(report: ScanReport) -> dict[str, Any]:
    doc = report.to_dict()
    doc["stats"]["seconds"] = 0
    doc["stats"].pop("phases", None)  # where the time went differs run to run
    return doc


def test_second_scan_reads_nothing_and_writes_the_same_report(demo_repo: DemoRepo, tmp_path: Path) -> None:
    plain = scan_repository(str(demo_repo.path), jobs=2)
    first = ScanCache.open(tmp_path / "cache.json")
    scan_repository(str(demo_repo.path), jobs=2, cache=first)
    assert first.reused == 0 and first.read > 0
    second = ScanCache.open(tmp_path / "cache.json")
    again = scan_repository(str(demo_repo.path), jobs=2, cache=second)
    assert second.reused == first.read and second.read == 0
    assert comparable(again) == comparable(plain)
    assert plain.findings  # the demo repository plants secrets on many refs


def test_cached_findings_are_located_in_the_current_history(tmp_path: Path) -> None:
    rng = random.Random(41)
    repo = new_repo(tmp_path / "repo")
    commit(repo, {"README.md": "hello\n"})
    old_token = fake_token(rng)
    commit(repo, {"app/config.py": f'TOKEN = "{old_token}"\n'}, "config")
    cache_file = tmp_path / "cache.json"
    scan_repository(str(repo), cache=ScanCache.open(cache_file))

    # A new branch reaches the old secret; a new commit adds another, in a message too.
    git.run(["branch", "release"], cwd=repo)
    new_token = fake_token(rng)
    commit(repo, {"deploy/env.py": f'TOKEN = "{new_token}"\n'}, "deploy")
    cache = ScanCache.open(cache_file)
    cached = scan_repository(str(repo), cache=cache)
    assert cache.read == 2  # the new blob and the new commit, nothing else
    assert comparable(cached) == comparable(scan_repository(str(repo)))
    old = [f for f in cached.findings if f.path == "app/config.py"]
    assert old and {"refs/heads/main", "refs/heads/release"} <= set(old[0].refs)
    assert any(f.path == "deploy/env.py" for f in cached.findings)

    # A ref deleted: what only it reached is gone from the report, though the cache still holds it.
    git.run(["reset", "-q", "--hard", "HEAD~1"], cwd=repo)
    cache = ScanCache.open(cache_file)
    after = scan_repository(str(repo), cache=cache)
    assert cache.read == 0
    assert not any(f.path == "deploy/env.py" for f in after.findings)
    assert comparable(after) == comparable(scan_repository(str(repo)))


def test_a_blob_met_at_another_path_is_read_again(tmp_path: Path) -> None:
    rng = random.Random(42)
    repo = new_repo(tmp_path / "repo")
    dashes = "-" * 5
    key = f"{dashes}BEGIN OPENSSH PRIVATE KEY{dashes}\n" + "".join(rng.choice(ALNUM) for _ in range(300)) + "\n"
    commit(repo, {"notes/readme.txt": key}, "notes")
    cache_file = tmp_path / "cache.json"
    scan_repository(str(repo), cache=ScanCache.open(cache_file))
    # The same bytes, now only at a path a path rule fires on.
    git.run(["mv", "notes/readme.txt", "id_rsa"], cwd=repo)
    commit(repo, {}, "move")
    git.run(["checkout", "-q", "--orphan", "only-key"], cwd=repo)
    commit(repo, {}, "orphan with the key")
    git.run(["branch", "-q", "-D", "main"], cwd=repo)
    cache = ScanCache.open(cache_file)
    cached = scan_repository(str(repo), cache=cache)
    assert cache.read >= 1
    assert comparable(cached) == comparable(scan_repository(str(repo)))
    assert any(f.kind == "path" and f.path == "id_rsa" for f in cached.findings)


def test_other_rules_discard_the_cache(tmp_path: Path) -> None:
    rng = random.Random(43)
    repo = new_repo(tmp_path / "repo")
    word = "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(6))
    value = "".join(rng.choice(ALNUM) for _ in range(24))
    commit(repo, {"settings.ini": f"{word} = {value}\n"})
    cache_file = tmp_path / "cache.json"
    assert not scan_repository(str(repo), cache=ScanCache.open(cache_file)).findings
    rules = tmp_path / "rules.yml"
    rules.write_text(f"- id: team-key\n  regex: '{word} = ([A-Za-z0-9]{{24}})'\n  keywords: ['{word}']\n"
                     "  secret_group: 1\n")
    cache = ScanCache.open(cache_file, str(rules))
    assert cache.discarded and len(cache) == 0
    report = scan_repository(str(repo), rules_file=str(rules), cache=cache)
    assert [f.rule for f in report.findings] == ["team-key"]
    # Same rules again: everything from the cache, the custom finding still there.
    cache = ScanCache.open(cache_file, str(rules))
    assert [f.rule for f in scan_repository(str(repo), rules_file=str(rules), cache=cache).findings] == ["team-key"]
    assert cache.read == 0 and cache.reused > 0


@pytest.mark.parametrize("damage", ["not json{", '{"schema": "other"}', "[]"])
def test_a_damaged_cache_is_discarded_not_trusted(tmp_path: Path, demo_repo: DemoRepo, damage: str) -> None:
    cache_file = tmp_path / "cache.json"
    cache_file.write_text(damage)
    cache = ScanCache.open(cache_file)
    assert cache.discarded and len(cache) == 0
    report = scan_repository(str(demo_repo.path), cache=cache)
    assert cache.reused == 0
    assert comparable(report) == comparable(scan_repository(str(demo_repo.path)))
    assert json.loads(cache_file.read_text())["schema"] == "git-sanitize/scan-cache/v1"


def test_a_cache_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    rng = random.Random(44)
    repo = new_repo(tmp_path / "repo")
    commit(repo, {"app.py": f'TOKEN = "{fake_token(rng)}"\n'})
    cache_file = tmp_path / "cache.json"
    scan_repository(str(repo), cache=ScanCache.open(cache_file))
    # Someone else's edit: the rows made to say "nothing found" in a group-writable file.
    doc = json.loads(cache_file.read_text())
    doc["objects"] = {k: v[:2] for k, v in doc["objects"].items()}
    cache_file.write_text(json.dumps(doc))
    cache_file.chmod(0o664)
    cache = ScanCache.open(cache_file)
    assert cache.discarded and len(cache) == 0
    assert scan_repository(str(repo), cache=cache).findings
    assert cache_file.stat().st_mode & 0o777 == 0o600  # replaced by a private one


def test_cli_cache_is_private_holds_no_value_and_keeps_the_report(demo_repo: DemoRepo, tmp_path: Path) -> None:
    cache_file = tmp_path / "scan.cache"
    reports = []
    for n in (1, 2):
        out = tmp_path / f"findings-{n}.json"
        proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(demo_repo.path), "-o", str(out),
                               "--cache", str(cache_file)], capture_output=True)
        assert proc.returncode == 1, proc.stderr
        reports.append(comparable(ScanReport.load(out)))
    assert reports[0] == reports[1]
    assert cache_file.stat().st_mode & 0o777 == 0o600
    text = cache_file.read_text()
    for p in demo_repo.planted:
        assert p.value not in text


def test_cli_cache_that_is_a_directory_is_refused(demo_repo: DemoRepo, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(demo_repo.path), "--cache",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "is a directory" in proc.stderr and "Traceback" not in proc.stderr


def test_the_rewrites_rescan_leaves_the_cache_verify_reads(story_repo: DemoRepo, tmp_path: Path) -> None:
    findings, plan, wd = tmp_path / "findings.json", tmp_path / "plan.json", tmp_path / "wd"
    cli = [sys.executable, "-m", "sanitize.cli"]
    assert subprocess.run([*cli, "scan", str(story_repo.path), "-o", str(findings)]).returncode == 1
    assert subprocess.run([*cli, "plan", str(findings), "-o", str(plan)], capture_output=True).returncode == 0
    proc = subprocess.run([*cli, "rewrite", str(plan), "--workdir", str(wd)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    cache_file = wd / "scan-cache.json"
    assert cache_file.stat().st_mode & 0o777 == 0o600
    # verify's rescan of what was pushed (the rewritten history) reads nothing the rewrite's rescan did not.
    cache = ScanCache.open(cache_file)
    report = scan_repository(str(wd / "mirror.git"), cache=cache)
    assert cache.read == 0 and cache.reused > 0
    assert comparable(report) == comparable(scan_repository(str(wd / "mirror.git")))
    text = cache_file.read_text()
    assert not any(p.value in text for p in story_repo.planted)


def test_a_range_scan_such_as_pre_push_reads_only_what_no_scan_read(tmp_path: Path) -> None:
    from sanitize.scan import revrange

    rng = random.Random(45)
    repo = new_repo(tmp_path / "repo")
    commit(repo, {"a.py": f'TOKEN = "{fake_token(rng)}"\n'})
    cache_file = tmp_path / "cache.json"
    scan_repository(str(repo), cache=ScanCache.open(cache_file))
    commit(repo, {"b.py": f'TOKEN = "{fake_token(rng)}"\n'}, "second")
    select = lambda gdir: revrange.parse_range(gdir, "HEAD~1..HEAD")  # noqa: E731
    cache = ScanCache.open(cache_file)
    ranged = scan_repository(str(repo), cache=cache, select=select)
    assert cache.read == 2 and [f.path for f in ranged.findings] == ["b.py"]
    assert comparable(ranged) == comparable(scan_repository(str(repo), select=select))
    cache = ScanCache.open(cache_file)
    assert comparable(scan_repository(str(repo), cache=cache, select=select)) == comparable(ranged)
    assert cache.read == 0
