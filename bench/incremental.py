"""``python -m bench.incremental --repo PATH``: the second scan of a repository, with the object cache.

Times the whole command (``git-sanitize scan PATH -o FILE``) three ways, interleaved
round by round: without a cache, filling a fresh cache (first scan), and with the
cache the first scan left (the repeated scan, verify's rescan, a pre-push hook). Each
round checks that the cached report equals the uncached one (all but the timing):
a cache that changed the report would be a bug, not a speed-up.

    python -m bench.incremental --repo /tmp/click.git --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import measure

EXE = [sys.executable, "-m", "sanitize.cli"]


def _report(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    doc["stats"]["seconds"] = 0
    return doc


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print one line per mode (median seconds, peak tree memory, ratio)."""
    ap = argparse.ArgumentParser(prog="python -m bench.incremental", description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="a local repository (bare or not)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    times: dict[str, list[measure.Sample]] = {"uncached": [], "first (fills cache)": [], "second (cached)": []}
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        t = Path(tmp)
        for _ in range(args.rounds):
            base = [*EXE, "scan", args.repo, "--jobs", str(args.jobs), "--format", "json"]
            cache = t / "cache.json"
            cache.unlink(missing_ok=True)
            runs = (("uncached", []), ("first (fills cache)", ["--cache", str(cache)]),
                    ("second (cached)", ["--cache", str(cache)]))
            for name, extra in runs:
                out = t / f"{name.split()[0]}.json"
                sample = measure.run([*base, "-o", str(out), *extra])
                if sample.returncode not in (0, 1):
                    print(f"{name}: failed: {sample.error}", file=sys.stderr)
                    return 2
                times[name].append(sample)
            if _report(t / "second.json") != _report(t / "uncached.json"):
                print("the cached report differs from the uncached one", file=sys.stderr)
                return 1
        size = cache.stat().st_size
    floor = statistics.median(s.seconds for s in times["uncached"])
    print(f"{args.repo}: {args.rounds} round(s), --jobs {args.jobs}; cache file {size / 1e6:.1f} MB")
    for name, samples in times.items():
        med = statistics.median(s.seconds for s in samples)
        rss = max(s.tree_rss for s in samples) / 2 ** 20
        print(f"  {name:<20} {med:7.2f} s  (min {min(s.seconds for s in samples):.2f})  "
              f"tree {rss:5.0f} MiB  {med / floor:4.2f}x uncached")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
