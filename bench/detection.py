"""Recall and precision on real histories: us and four peers, and what our default plan would rewrite.

``python -m bench.detection [--repo PATH ...]`` (also ``python -m bench --recall``) scans the
project's own fixture (``demo/story_repo.py``'s full repository, built from a seed in a private
temporary directory) and each ``--repo`` with every scanner of :mod:`bench.recall`: git-sanitize,
gitleaks, betterleaks, kingfisher and detect-secrets. Per repository and scanner it prints:

- **recall** where a ground truth exists: on the fixture, the planted values found (a value by
  its hash, a whole-file plant by any value reported at its path), and the decoy files' values
  reported (each one a false positive); on a repository whose tip holds ``.leaky-meta/secrets.csv``
  (Plazmaz/leaky-repo), the distinct values per listed file capped at its risk count;
- **distinct values**: a value at several paths counts once, a whole-file finding once per path;
- the distinct values per **context** (``sanitize.scan.context``: ours as the scan recorded it,
  the peers' from the path they report);
- for us, what ``git-sanitize plan``'s default does with them: values it **rewrites** (replaced,
  reworded, or in a path it deletes) and values **held** for review; ``refused`` when the plan
  exits non-zero (a finding whose value it cannot recover).

A second table splits our distinct values per context and plan decision. Reports, plans and the
fixture live in a private temporary directory removed at the end; values are hashed, only counts
are printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers import find_binary
from bench.recall import SCANNERS, Result, Scanner, ground_truth, run_scanner
from sanitize.scan.context import CONTEXTS, classify
from sanitize.secret import sha256_hex

FIXTURE_SEED = 2026


@dataclass(frozen=True)
class Truth:
    """What a repository is judged against: planted values (the fixture) or leaky-repo's CSV."""

    value_ids: tuple[frozenset[str], ...] = ()  # per planted value: the ids a scanner may report it as
    planted_paths: tuple[str, ...] = ()  # whole-file plants: found when anything is reported there
    decoy_paths: frozenset[str] = frozenset()
    leaky: dict[str, int] | None = None

    @property
    def total(self) -> int:
        return len(self.value_ids) + len(self.planted_paths) if self.leaky is None else sum(self.leaky.values())


@dataclass
class Plan:
    """Our default plan's decision for each of our distinct values."""

    refused: str = ""
    rewrite: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)


@dataclass
class Row:
    """One scanner on one repository."""

    result: Result
    found: int | None = None
    decoys: int | None = None
    contexts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    plan: Plan | None = None

    @property
    def values(self) -> set[str]:
        return {v for _, v in self.result.values}


def value_ids(value: str) -> frozenset[str]:
    """The ids under which scanners report ``value``: its SHA-256, and detect-secrets' ``sha1:`` form."""
    import hashlib

    return frozenset({sha256_hex(value), "sha1:" + hashlib.sha1(value.encode("utf-8")).hexdigest()})


def fixture(dest: Path) -> Truth:
    """Build the demo fixture at ``dest``; its ground truth is what it plants."""
    from demo.story_repo import build_demo_repo

    demo = build_demo_repo(dest, seed=FIXTURE_SEED)
    return Truth(value_ids=tuple(value_ids(p.value) for p in demo.planted if p.kind != "path"),
                 planted_paths=tuple(p.path or "" for p in demo.planted if p.kind == "path"),
                 decoy_paths=frozenset(demo.decoys))


def judge(row: Row, truth: Truth | None) -> None:
    """Fill in ``row.found`` (and ``row.decoys``) against ``truth``."""
    if truth is None:
        return
    if truth.leaky is not None:
        row.found = row.result.judged
        return
    values, paths = row.values, {p for p, _ in row.result.values}
    row.found = sum(1 for ids in truth.value_ids if ids & values) + sum(1 for p in truth.planted_paths if p in paths)
    row.decoys = len({v for p, v in row.result.values if p in truth.decoy_paths})


def our_contexts(report: Path) -> dict[str, set[str]]:
    """Context → our distinct values there, as the scan recorded each finding's context."""
    out: dict[str, set[str]] = defaultdict(set)
    for f in json.loads(report.read_text())["findings"]:
        value = "path:" + (f.get("path") or "") if f.get("kind") == "path" else f["secret_sha256"]
        out[f.get("context") or classify(f.get("path"))].add(value)
    return out


def peer_contexts(result: Result) -> dict[str, set[str]]:
    """Context → a peer's distinct values, classified from the path it reports."""
    out: dict[str, set[str]] = defaultdict(set)
    for path, value in result.values:
        out[classify(path or None)].add(value)
    return out


def default_plan(report: Path, workdir: Path) -> Plan:
    """Run ``git-sanitize plan`` with its defaults on our report; our value ids it rewrites and holds."""
    exe = find_binary("git-sanitize") or "git-sanitize"
    out = workdir / "plan" / "plan.json"
    out.parent.mkdir(mode=0o700)
    proc = subprocess.run([exe, "plan", str(report), "-o", str(out)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return Plan(refused=f"exit {proc.returncode}")
    doc = json.loads(out.read_text())
    actions = doc["actions"]
    deleted = {d["path"] for d in actions["delete_paths"]}
    shas = {r["secret_sha256"] for r in actions["replace"]}
    shas |= {s for m in actions["messages"] for s in m["secret_sha256s"]}
    plan = Plan(held={h["secret_sha256"] for h in doc.get("held_back", [])})
    for f in json.loads(report.read_text())["findings"]:
        path = f.get("path") or ""
        if f.get("kind") == "path":
            if path in deleted:
                plan.rewrite.add("path:" + path)
        elif f["secret_sha256"] in shas or path in deleted:
            plan.rewrite.add(f["secret_sha256"])
    plan.held -= plan.rewrite
    return plan


def run_repo(repo: Path, truth: Truth | None, workdir: Path, scanners: Iterable[Scanner]) -> list[Row]:
    """Every scanner on ``repo``; reports stay in ``workdir``."""
    rows = []
    for scanner in scanners:
        row = Row(run_scanner(scanner, repo, workdir, truth.leaky if truth else None))
        if not row.result.skipped:
            judge(row, truth)
            report = workdir / f"{scanner.name}.json"
            if scanner.name == "git-sanitize":
                row.contexts = our_contexts(report)
                row.plan = default_plan(report, workdir)
            else:
                row.contexts = peer_contexts(row.result)
        rows.append(row)
    return rows


TABLE_HEADER = ["| repository | scanner | recall | distinct values | " + " | ".join(CONTEXTS)
                + " | default plan rewrites | held for review |",
                "|---|---|---:|---:|" + "---:|" * len(CONTEXTS) + "---:|---:|"]


def table_rows(name: str, rows: list[Row], truth: Truth | None) -> list[str]:
    """The main table's lines for one repository."""
    lines = []
    for row in rows:
        r = row.result
        if r.skipped:
            lines.append(f"| {name} | {r.name} | skipped ({r.skipped}) |" + " - |" * (len(CONTEXTS) + 3))
            continue
        recall = "-"
        if truth is not None and row.found is not None:
            recall = f"{row.found} of {truth.total}"
            if row.decoys is not None:
                recall += f" ({row.decoys} decoy)"
        plan_cells = "- | -"
        if row.plan is not None:
            plan_cells = (f"refused ({row.plan.refused}) | -" if row.plan.refused
                          else f"{len(row.plan.rewrite)} | {len(row.plan.held)}")
        ctx = " | ".join(str(len(row.contexts.get(c, ()))) for c in CONTEXTS)
        lines.append(f"| {name} | {r.name} | {recall} | {len(row.values)} | {ctx} | {plan_cells} |")
    return lines


DECISION_HEADER = ["| repository | context | our distinct values | default plan rewrites | held for review | "
                   "neither |", "|---|---|---:|---:|---:|---:|"]


def decision_rows(name: str, rows: list[Row]) -> list[str]:
    """Our distinct values per context and plan decision (a value in two contexts counts in both)."""
    ours = next((r for r in rows if r.result.name == "git-sanitize" and not r.result.skipped), None)
    if ours is None or ours.plan is None or ours.plan.refused:
        return [f"| {name} | - | {'plan refused' if ours and ours.plan else 'not scanned'} | - | - | - |"]
    lines = []
    for c in CONTEXTS:
        vals = ours.contexts.get(c, set())
        if vals:
            rw, held = len(vals & ours.plan.rewrite), len(vals & ours.plan.held)
            lines.append(f"| {name} | {c} | {len(vals)} | {rw} | {held} | {len(vals) - rw - held} |")
    return lines


def report(targets: list[tuple[str, Path | None]], scanners: Iterable[Scanner] = SCANNERS) -> str:
    """Run everything and render the two tables. ``(name, None)`` is the fixture, built here."""
    table, decisions = list(TABLE_HEADER), list(DECISION_HEADER)
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
        for i, (name, path) in enumerate(targets):
            work = Path(tmp) / str(i)
            work.mkdir()
            if path is None:
                path = work / "fixture"
                truth: Truth | None = fixture(path)
            else:
                leaky = ground_truth(path)
                truth = Truth(leaky=leaky) if leaky is not None else None
            rows = run_repo(path, truth, work, scanners)
            table += table_rows(name, rows, truth)
            decisions += decision_rows(name, rows)
    return "\n".join([*table, "", *decisions])


def display_name(repo: Path) -> str:
    """``flask.git`` → ``flask``; a mirror's ``owner+name/repo`` → ``owner+name``."""
    return repo.name.removesuffix(".git") if repo.name != "repo" else repo.parent.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", default=[], type=Path,
                        help="also scan this repository (work tree or bare; repeatable)")
    parser.add_argument("--no-fixture", action="store_true", help="leave out the project's own fixture")
    parser.add_argument("--only", action="append", default=[], help="run only this scanner (repeatable)")
    args = parser.parse_args(argv)
    targets: list[tuple[str, Path | None]] = [] if args.no_fixture else [("fixture", None)]
    for given in args.repo:
        repo = given.resolve()
        if not (repo / ".git").exists() and not (repo / "HEAD").exists():
            print(f"bench.detection: {repo} is not a git repository", file=sys.stderr)
            return 2
        targets.append((display_name(repo), repo))
    scanners = [s for s in SCANNERS if not args.only or s.name in args.only]
    print(report(targets, scanners))
    return 0


if __name__ == "__main__":
    sys.exit(main())
