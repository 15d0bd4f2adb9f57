"""``python -m bench.org_bench``: an organisation of small generated repositories, scanned in one go.

Builds ``--repos`` small repositories (a few commits each, seeded fake secrets; every
tenth holds the same leaked token), then times, as a user runs them:

1. ``git-sanitize scan --repos LIST --out-dir DIR --jobs N`` (one machine);
2. the same again (each repository's cache now read: the nightly re-run);
3. ``--shards`` shard processes at once, then ``git-sanitize org merge``
   (what the Kubernetes Indexed Job and the Actions matrix run).

It checks that every run found the shared token in every repository that holds it.

    python -m bench.org_bench --repos 100 --jobs 2 --shards 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = [sys.executable, "-m", "sanitize.cli"]
ALNUM = string.ascii_letters + string.digits
ENV = {**os.environ, "GIT_AUTHOR_NAME": "B", "GIT_AUTHOR_EMAIL": "b@example.test", "GIT_COMMITTER_NAME": "B",
       "GIT_COMMITTER_EMAIL": "b@example.test"}


def _token(rng: random.Random) -> str:
    return "gh" + "p_" + "".join(rng.choice(ALNUM) for _ in range(36))


def build(root: Path, count: int, seed: int = 100) -> tuple[Path, int]:
    """``count`` repositories under ``root`` and a list file; returns (list, how many hold the shared token)."""
    rng = random.Random(seed)
    shared = _token(rng)
    holders = 0
    paths = []
    for i in range(count):
        repo = root / f"repo-{i:03d}"
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        for c in range(5):
            (repo / f"mod{c}.py").write_text("".join(f"def f{c}_{k}():\n    return {rng.randrange(10**6)}\n"
                                                     for k in range(40)))
            if c == 3 and i % 10 == 0:
                (repo / "settings.py").write_text(f'TOKEN = "{shared}"\n')
                holders += 1
            if c == 4 and i % 7 == 0:
                (repo / "deploy.py").write_text(f'KEY = "{_token(rng)}"\n')
            subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
            subprocess.run(["git", "commit", "-q", "-m", f"change {c}"], cwd=repo, env=ENV, check=True)
        paths.append(str(repo))
    listing = root / "repos.txt"
    listing.write_text("\n".join(paths) + "\n")
    return listing, holders


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    return time.perf_counter() - start, proc.returncode


def _shared_count(report: Path) -> int:
    return int(json.loads(report.read_text())["credentials"][0]["repo_count"])


def main(argv: list[str] | None = None) -> int:
    """Build, run the three scans, print their times."""
    ap = argparse.ArgumentParser(prog="python -m bench.org_bench", description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-org-") as tmp:
        t = Path(tmp)
        started = time.perf_counter()
        listing, holders = build(t / "org", args.repos)
        print(f"built {args.repos} repositories (5 commits each; {holders} share one token) in "
              f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f}")
        one = [*EXE, "scan", "--repos", str(listing), "--out-dir", str(t / "one"), "--jobs", str(args.jobs), "-q"]
        for name in ("first run", "second run (cached)"):
            seconds, code = _timed(one)
            ok = code == 1 and _shared_count(t / "one" / "org.json") == holders
            print(f"  scan --repos, --jobs {args.jobs}, {name:<20} {seconds:6.1f} s  "
                  f"({seconds / args.repos * 1000:.0f} ms per repository){'' if ok else '  WRONG RESULT'}")
        start = time.perf_counter()
        shards = [subprocess.Popen([*EXE, "scan", "--repos", str(listing), "--shard", f"{k}/{args.shards}",
                                    "--out-dir", str(t / "vol"), "--jobs", "1", "-q"], stdout=subprocess.DEVNULL)
                  for k in range(args.shards)]
        codes = [p.wait() for p in shards]
        merge_s, merge_code = _timed([*EXE, "org", "merge", str(t / "vol"), "-o", str(t / "report"), "-q"])
        total = time.perf_counter() - start
        ok = codes == [1] * args.shards and merge_code == 1 and _shared_count(t / "report" / "org.json") == holders
        print(f"  {args.shards} shard processes + org merge           {total:6.1f} s  (merge {merge_s:.1f} s)"
              f"{'' if ok else '  WRONG RESULT'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
