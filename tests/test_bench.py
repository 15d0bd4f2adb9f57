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
    for tool in ("read floor", "git log -p", "git-sanitize", "gitleaks", "kingfisher"):
        row = next(line for line in scan_table.splitlines() if line.startswith(tool))
        measured = row.split()[len(tool.split())].replace(".", "").isdigit()
        assert measured or "skipped (" in row or "failed (" in row, row  # failures are the tools' own tests' job
    assert "read floor" in out and "cat-file --batch-all-objects --batch --unordered" in out
    rewrite_section = out.split("== rewrite ==")[1].split("== commands run ==")[0].strip()
    assert rewrite_section.startswith("skipped") or "rewrite step vs plain filter-repo" in rewrite_section \
        or "failed" in rewrite_section, rewrite_section
    planted = synthetic.cached(40, 3, tmp_path).planted
    for p in planted:  # the bench prints counts, never what it found
        assert p.value not in out and p.needle not in out and p.value not in proc.stderr
