"""``python -m bench`` (``make bench``): scan and rewrite benchmarks on one repository, one run.

    python -m bench                        # synthetic history (3000 commits), 3 rounds
    python -m bench --repo PATH --rounds 5 # any local repository (bare or not); repeatable
    python -m bench --repo A --repo B --repacked --no-rewrite
    python -m bench --synthetic 500 --rounds 1
    python -m bench --repo leaky --repo flask.git --recall --no-scan --no-rewrite   # recall/precision only

Every tool runs on the same repository, interleaved round by round so load changes hit all
of them alike; the table shows medians, peak memory (largest process and whole process
tree), ratios as medians of per-round pairs (ours and the other tool measured back to back),
where our scan's time went (its phases), and on the synthetic history how many of the
planted secrets each scanner reported. The machine's load is printed before and after, the
commands run at the end, and with several repositories one summary table.
"""

from __future__ import annotations

import argparse
import json
import os
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
    by_round: dict[int, measure.Sample] = field(default_factory=dict)
    phases: list[dict[str, float]] = field(default_factory=list)  # ours: the report's stats.phases per round

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def tree_rss(self) -> int:
        return max(s.tree_rss for s in self.samples)

    @property
    def max_rss(self) -> int:
        return max(s.max_rss for s in self.samples)


def paired(ours: Row, other: Row) -> float | None:
    """Median over rounds of ours ÷ other, each pair measured back to back (None: no common round)."""
    pairs = [ours.by_round[r].seconds / other.by_round[r].seconds for r in ours.by_round
             if r in other.by_round and other.by_round[r].seconds > 0]
    return statistics.median(pairs) if pairs else None


class RepackedFloor(peers.ReadFloor):
    """The read floor on a freshly repacked copy (``git repack -adf``): a clone made by fast-import or
    fetched in many packs reads slower than one fully delta-compressed pack."""

    name = "floor repacked"

    def __init__(self, copy: Path) -> None:
        super().__init__()
        self.copy = copy

    def command(self, repo: Path, report: Path) -> list[str]:
        return super().command(self.copy, report)


class OursRepacked(peers.GitSanitize):
    """Our scan on the same repacked copy as :class:`RepackedFloor`."""

    name = "ours repacked"

    def __init__(self, copy: Path) -> None:
        super().__init__()
        self.copy = copy

    def command(self, repo: Path, report: Path) -> list[str]:
        return super().command(self.copy, report)


def repacked_copy(repo: Path, where: Path) -> Path:
    """A ``--mirror --no-local`` clone of ``repo`` repacked into one pack (untimed)."""
    copy = where / "repacked.git"
    subprocess.run(["git", "clone", "--quiet", "--mirror", "--no-local", str(repo), str(copy)], check=True)
    subprocess.run(["git", "-C", str(copy), "repack", "-adfq"], check=True)
    return copy


def load_line(when: str) -> str:
    """The machine's load average, for judging how noisy the numbers are."""
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, ValueError):
        return f"load {when}: unknown"
    return f"load {when}: {one} {five} {fifteen} (1/5/15 min) on {os.cpu_count()} CPU(s)"


@dataclass(frozen=True)
class Shape:
    """What is being scanned."""

    refs: int
    commits: int
    blobs: int
    blob_bytes: int

    def short(self) -> str:
        return f"{self.commits:,} / {self.refs:,}"


def repo_shape(repo: Path) -> Shape:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout

    n_refs = len(git("for-each-ref", "--format=%(refname)").splitlines())
    commits = int(git("rev-list", "--all", "--count").strip() or 0)
    blobs, size = 0, 0
    for line in git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)").splitlines():
        kind, _, n = line.partition(" ")
        if kind == "blob":
            blobs += 1
            size += int(n)
    return Shape(refs=n_refs, commits=commits, blobs=blobs, blob_bytes=size)


def repo_stats(repo: Path, shape: Shape) -> str:
    """A one-line description of what is being scanned."""
    return (f"{repo}: {shape.refs} refs, {shape.commits} commits, {shape.blobs} blobs, "
            f"{shape.blob_bytes / 1e6:.1f} MB of blob content")


def run_scan_bench(repo: Path, rounds: int, planted: tuple[PlantedSecret, ...], out: list[str],
                   repacked: bool = False) -> list[Row]:
    """Run every scan tool ``rounds`` times on ``repo``; fill recall from the last report."""
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        work = Path(tmp)  # 0700: peer reports hold what they found
        tools = peers.scan_tools(redact=not planted)
        if repacked:
            copy = repacked_copy(repo, work)
            tools[1:1] = [RepackedFloor(copy)]
            tools.insert(4, OursRepacked(copy))
        rows = [Row(t, skipped=t.skip_reason()) for t in tools]
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
                row.by_round[r] = sample
                if isinstance(row.tool, peers.GitSanitize):
                    row.phases.append(_phases(report, sample))
                if r == rounds - 1 and row.tool.writes_report:
                    try:
                        row.recall = row.tool.recall(report, planted)
                    except (OSError, ValueError, AttributeError, TypeError) as exc:
                        row.failed = f"unreadable report ({exc.__class__.__name__})"
    return rows


def _phases(report: Path, sample: measure.Sample) -> dict[str, float]:
    """Our scan's phases from its report, plus start-up and writing (the wall time outside the scan)."""
    try:
        stats = json.loads(report.read_text(encoding="utf-8")).get("stats", {})
    except (OSError, ValueError):
        return {}
    phases = {k: float(v) for k, v in (stats.get("phases") or {}).items()}
    phases["start-up + report"] = max(0.0, sample.seconds - float(stats.get("seconds", 0.0)))
    return phases


def format_phases(rows: list[Row]) -> list[str]:
    """Where our scan's time went: the median of each phase over the rounds."""
    lines = []
    for row in rows:
        if not row.phases:
            continue
        names = list(dict.fromkeys(k for p in row.phases for k in p))
        parts = [f"{n} {statistics.median(p.get(n, 0.0) for p in row.phases):.2f} s" for n in names]
        lines.append(f"{row.tool.name} phases (median of {len(row.phases)}): " + ", ".join(parts))
    if lines:
        lines.append("  (read/detect are summed over the worker processes and overlap the wall-clock "
                     "read+detect phase)")
    return lines


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}"


def format_table(rows: list[Row]) -> list[str]:
    """The result table as text lines; ratios are medians of per-round pairs."""
    floor = next((r for r in rows if isinstance(r.tool, peers.ReadFloor) and r.samples), None)
    ours = next((r for r in rows if type(r.tool) is peers.GitSanitize and r.samples), None)
    header = f"{'tool':<14} {'median s':>9} {'min-max s':>13} {'RSS MiB':>8} {'tree MiB':>9} {'x floor':>8} " \
             f"{'ours/this':>9} {'findings':>9} {'planted found':>14}"
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.skipped:
            lines.append(f"{row.tool.name:<14} skipped ({row.skipped})")
            continue
        if row.failed and not row.samples:
            lines.append(f"{row.tool.name:<14} failed ({row.failed})")
            continue
        times = [s.seconds for s in row.samples]
        x_floor = paired(row, floor) if floor else None
        vs_ours = paired(ours, row) if ours and row is not ours else None
        rec = row.recall
        findings = str(rec.findings) if rec else "-"
        found = f"{rec.found}/{rec.planted}" if rec and rec.found is not None else "-"
        lines.append(f"{row.tool.name:<14} {row.median:>9.2f} {min(times):>6.2f}-{max(times):<6.2f} "
                     f"{_mib(row.max_rss):>8} {_mib(row.tree_rss):>9} {_ratio(x_floor):>8} {_ratio(vs_ours):>9} "
                     f"{findings:>9} {found:>14}" + (f"  (failed later: {row.failed})" if row.failed else ""))
    for row in rows:
        if row.recall and row.recall.missed:
            lines.append(f"  {row.tool.name} missed: {', '.join(row.recall.missed)}")
    return lines


def _ratio(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "-"


def verdict(rows: list[Row], goal: float = 1.5) -> list[str]:
    """Our scan against the issue's targets: ahead of every peer, close to the floor, < 1 GiB."""
    by = {r.tool.name: r for r in rows if r.samples and not r.skipped}
    ours = by.get("git-sanitize")
    if ours is None:
        return ["git-sanitize scan: not measured (skipped or failed), no verdict"]
    lines = []
    for peer in (*peers.PEERS, "git log -p"):
        ratio = paired(ours, by[peer]) if peer in by else None
        if ratio is None:
            continue
        speed = f"{1 / ratio:.2f}x faster" if ratio <= 1 else f"{ratio:.2f}x slower"
        target = f" (target: ahead of every peer: {'met' if ratio < 1 else 'MISSED'})" if peer in peers.PEERS else ""
        lines.append(f"git-sanitize vs {peer}: {speed}, ours/{peer} = {ratio:.2f}{target}")
    for floor_name, ours_name in (("read floor", "git-sanitize"), ("floor repacked", "ours repacked")):
        x = paired(by[ours_name], by[floor_name]) if floor_name in by and ours_name in by else None
        if x is not None:
            lines.append(f"{ours_name} vs {floor_name}: {x:.2f}x (target <= {goal:g}x: "
                         f"{'met' if x <= goal else 'MISSED'})")
    lines.append(f"git-sanitize peak memory: {_mib(ours.tree_rss)} MiB for the process tree "
                 f"(target < 1 GiB: {'met' if ours.tree_rss < GIB else 'MISSED'})")
    return lines


def summary_line(name: str, shape: str, rows: list[Row]) -> str:
    """One row of the cross-repository table: the issue's columns."""
    by = {r.tool.name: r for r in rows if r.samples and not r.skipped}
    ours = by.get("git-sanitize")
    if ours is None:
        return f"| {name} | {shape} | not measured |"

    def cell(other: str) -> str:
        return _ratio(paired(ours, by[other])) if other in by else "-"

    repacked = ("-" if "floor repacked" not in by or "ours repacked" not in by
                else _ratio(paired(by["ours repacked"], by["floor repacked"])))
    return (f"| {name} | {shape} | {cell('read floor')} | {repacked} | " + " | ".join(cell(p) for p in peers.PEERS)
            + f" | {_mib(ours.max_rss)} MiB | {_mib(ours.tree_rss)} MiB |")


SUMMARY_HEADER = ["| repository | commits / refs | ours ÷ read floor | ours ÷ floor (repacked) | ours ÷ gitleaks | "
                  "ours ÷ betterleaks | ours ÷ kingfisher | largest process | process tree |",
                  "|---|---|---|---|---|---|---|---|---|"]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build or pick the repository, run the benches, print the results."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=Path, action="append",
                    help="scan this local repository instead of the synthetic one (repeatable)")
    ap.add_argument("--floor-target", type=float, default=1.5, metavar="X",
                    help="the target for ours ÷ the read floor (the issue: 1.5 on pytest and sympy, 2 on flask)")
    ap.add_argument("--repacked", action="store_true",
                    help="also measure the floor and our scan on a freshly repacked copy (git repack -adf)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per tool (median reported; default 3)")
    ap.add_argument("--synthetic", type=int, default=3000, metavar="N_COMMITS",
                    help="size of the synthetic history (default 3000 commits)")
    ap.add_argument("--seed", type=int, default=2026, help="seed of the synthetic history (default 2026)")
    ap.add_argument("--cache", type=Path, default=synthetic.CACHE, help="where synthetic histories are cached")
    ap.add_argument("--no-rewrite", action="store_true", help="skip the rewrite bench")
    ap.add_argument("--no-scan", action="store_true", help="skip the scan bench (rewrite only)")
    ap.add_argument("--plant-near-tip", action="store_true",
                    help="rewrite bench on a copy of each --repo with a secret planted near the tip of its default "
                         "branch (the repository's own findings are the baseline): the blast radius the issue times")
    ap.add_argument("--recall", action="store_true",
                    help="also print the recall/precision report (bench.detection): the project's fixture and "
                         "every --repo, us and the peers, and what our default plan would rewrite")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    targets: list[tuple[Path, tuple[PlantedSecret, ...]]] = []
    for given in args.repo or []:
        repo = given.resolve()
        if not repo.exists():
            ap.error(f"{repo}: no such repository")
        targets.append((repo, ()))
    if not targets:
        print(f"synthetic history: {args.synthetic} commits, seed {args.seed} (cache: {args.cache})", flush=True)
        syn = synthetic.cached(args.synthetic, args.seed, args.cache)
        targets.append((syn.path, syn.planted))

    print(load_line("before"), flush=True)
    commands: list[str] = []
    summary: list[str] = []
    for repo, planted in targets:
        shape = repo_shape(repo)
        print(f"\n##### {repo_stats(repo, shape)}", flush=True)
        print(f"{args.rounds} round(s) per tool; planted secrets: {len(planted) or 'none (not synthetic)'}\n",
              flush=True)
        print("== scan ==")
        if args.no_scan:
            print("skipped: --no-scan")
        else:
            rows = run_scan_bench(repo, args.rounds, planted, commands, repacked=args.repacked)
            print("\n".join(format_table(rows)))
            print()
            print("\n".join(format_phases(rows)))
            print("\n".join(verdict(rows, args.floor_target)))
            summary.append(summary_line(repo.name, shape.short(), rows))

        print("\n== rewrite ==")
        if args.no_rewrite:
            print("skipped: --no-rewrite")
        else:
            print("\n".join(rewrite_bench.run(repo, args.rounds, commands,
                                               plant=args.plant_near_tip and bool(args.repo))))

    if args.recall:
        from bench import detection

        real = [p for p, pl in targets if not pl]  # the synthetic history has its own recall column above
        print("\n== recall and precision (bench.detection) ==", flush=True)
        print(detection.report([("fixture", None), *((detection.display_name(p), p) for p in real)]))
        commands.append(shlex.join(["python", "-m", "bench.detection", *(a for p in real for a in ("--repo", str(p)))]))

    if summary:
        print("\n== summary (ratios: medians of per-round pairs) ==")
        print("\n".join([*SUMMARY_HEADER, *summary]))
    print(load_line("after"))
    print("\n== commands run ==")
    print("\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
