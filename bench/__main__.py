"""``python -m bench`` (``make bench``): scan and rewrite benchmarks on one repository, one run.

    python -m bench                        # synthetic history (3000 commits), 3 rounds
    python -m bench --repo PATH --rounds 5 # any local repository (bare or not)
    python -m bench --synthetic 500 --rounds 1

Every tool runs on the same repository, interleaved round by round so load changes hit all
of them alike; the table shows medians, peak memory (largest process and whole process
tree), the ratio to the read floor and, on the synthetic history, how many of the planted
secrets each scanner reported. The commands run are printed at the end.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import measure, peers, rewrite_bench, synthetic
from bench.synthetic import PlantedSecret

GIB = 1024 ** 3


@dataclass
class Row:
    """The measurements of one tool."""

    tool: peers.Tool
    samples: list[measure.Sample] = field(default_factory=list)
    skipped: str | None = None
    failed: str | None = None
    recall: peers.Recall | None = None

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def tree_rss(self) -> int:
        return max(s.tree_rss for s in self.samples)

    @property
    def max_rss(self) -> int:
        return max(s.max_rss for s in self.samples)


def repo_stats(repo: Path) -> str:
    """A one-line description of what is being scanned."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout

    n_refs = len(git("for-each-ref", "--format=%(refname)").splitlines())
    commits = git("rev-list", "--all", "--count").strip()
    blobs, size = 0, 0
    for line in git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)").splitlines():
        kind, _, n = line.partition(" ")
        if kind == "blob":
            blobs += 1
            size += int(n)
    return f"{repo}: {n_refs} refs, {commits} commits, {blobs} blobs, {size / 1e6:.1f} MB of blob content"


def run_scan_bench(repo: Path, rounds: int, planted: tuple[PlantedSecret, ...], out: list[str]) -> list[Row]:
    """Run every scan tool ``rounds`` times on ``repo``; fill recall from the last report."""
    tools = peers.scan_tools(redact=not planted)
    rows = [Row(t, skipped=t.skip_reason()) for t in tools]
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        work = Path(tmp)  # 0700: peer reports hold what they found
        empty = work / "empty"
        empty.mkdir()
        # Warm-ups, untimed: the page cache for everyone, kingfisher's one-time rule compilation.
        measure.run(peers.ReadFloor().command(repo, work / "x"))
        for row in rows:
            if isinstance(row.tool, peers.Kingfisher) and not row.skipped:
                row.tool.warm_up(empty)
        for r in range(rounds):
            for row in rows:
                if row.skipped or row.failed:
                    continue
                report = work / f"{row.tool.name.replace(' ', '-')}.json"
                report.unlink(missing_ok=True)
                cmd = row.tool.command(repo, report)
                if r == 0:
                    out.append(shlex.join(cmd))
                sample = measure.run(cmd)
                print(f"  round {r + 1}/{rounds} {row.tool.name}: {sample.seconds:.2f} s (exit {sample.returncode})",
                      file=sys.stderr, flush=True)
                if sample.returncode not in row.tool.ok_codes:
                    row.failed = f"exit {sample.returncode}: {sample.error}"
                    continue
                row.samples.append(sample)
                if r == rounds - 1 and row.tool.writes_report:
                    try:
                        row.recall = row.tool.recall(report, planted)
                    except (OSError, ValueError, AttributeError, TypeError) as exc:
                        row.failed = f"unreadable report ({exc.__class__.__name__})"
    return rows


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}"


def format_table(rows: list[Row]) -> list[str]:
    """The result table as text lines."""
    floor = next((r for r in rows if isinstance(r.tool, peers.ReadFloor) and r.samples), None)
    header = f"{'tool':<14} {'median s':>9} {'min-max s':>13} {'RSS MiB':>8} {'tree MiB':>9} {'x floor':>8} " \
             f"{'findings':>9} {'planted found':>14}"
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.skipped:
            lines.append(f"{row.tool.name:<14} skipped ({row.skipped})")
            continue
        if row.failed and not row.samples:
            lines.append(f"{row.tool.name:<14} failed ({row.failed})")
            continue
        times = [s.seconds for s in row.samples]
        ratio = f"{row.median / floor.median:.2f}" if floor else "-"
        rec = row.recall
        findings = str(rec.findings) if rec else "-"
        found = f"{rec.found}/{rec.planted}" if rec and rec.found is not None else "-"
        lines.append(f"{row.tool.name:<14} {row.median:>9.2f} {min(times):>6.2f}-{max(times):<6.2f} "
                     f"{_mib(row.max_rss):>8} {_mib(row.tree_rss):>9} {ratio:>8} {findings:>9} {found:>14}"
                     + (f"  (failed later: {row.failed})" if row.failed else ""))
    for row in rows:
        if row.recall and row.recall.missed:
            lines.append(f"  {row.tool.name} missed: {', '.join(row.recall.missed)}")
    return lines


def verdict(rows: list[Row]) -> list[str]:
    """Our scan against the issue's targets: faster than both peers, within 3x of the floor, < 1 GiB."""
    by = {r.tool.name: r for r in rows if r.samples and not r.skipped}
    ours = by.get("git-sanitize")
    if ours is None:
        return ["git-sanitize scan: not measured (skipped or failed), no verdict"]
    lines = []
    for peer in ("gitleaks", "kingfisher", "git log -p"):
        if peer in by:
            r = by[peer].median / ours.median
            speed = f"{r:.2f}x faster" if r >= 1 else f"{1 / r:.2f}x slower"
            target = ""
            if peer != "git log -p":
                target = f" (target: faster than the peers: {'met' if r >= 1 else 'MISSED'})"
            lines.append(f"git-sanitize vs {peer}: {speed}{target}")
    if "read floor" in by:
        x = ours.median / by["read floor"].median
        lines.append(f"git-sanitize vs read floor: {x:.2f}x the floor (target <= 3x: {'met' if x <= 3 else 'MISSED'})")
    lines.append(f"git-sanitize peak memory: {_mib(ours.tree_rss)} MiB for the process tree "
                 f"(target < 1 GiB: {'met' if ours.tree_rss < GIB else 'MISSED'})")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build or pick the repository, run the benches, print the results."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=Path, help="scan this local repository instead of the synthetic one")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per tool (median reported; default 3)")
    ap.add_argument("--synthetic", type=int, default=3000, metavar="N_COMMITS",
                    help="size of the synthetic history (default 3000 commits)")
    ap.add_argument("--seed", type=int, default=2026, help="seed of the synthetic history (default 2026)")
    ap.add_argument("--cache", type=Path, default=synthetic.CACHE, help="where synthetic histories are cached")
    ap.add_argument("--no-rewrite", action="store_true", help="skip the rewrite bench")
    ap.add_argument("--no-scan", action="store_true", help="skip the scan bench (rewrite only)")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    planted: tuple[PlantedSecret, ...] = ()
    if args.repo:
        repo = args.repo.resolve()
        if not repo.exists():
            ap.error(f"{repo}: no such repository")
    else:
        print(f"synthetic history: {args.synthetic} commits, seed {args.seed} (cache: {args.cache})", flush=True)
        syn = synthetic.cached(args.synthetic, args.seed, args.cache)
        repo, planted = syn.path, syn.planted
    print(repo_stats(repo), flush=True)
    print(f"{args.rounds} round(s) per tool; planted secrets: {len(planted) or 'none (not synthetic)'}\n", flush=True)

    commands: list[str] = []
    print("== scan ==")
    if args.no_scan:
        print("skipped: --no-scan")
    else:
        rows = run_scan_bench(repo, args.rounds, planted, commands)
        print("\n".join(format_table(rows)))
        print()
        print("\n".join(verdict(rows)))

    print("\n== rewrite ==")
    if args.no_rewrite:
        print("skipped: --no-rewrite")
    else:
        print("\n".join(rewrite_bench.run(repo, args.rounds, commands)))

    print("\n== commands run ==")
    print("\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
