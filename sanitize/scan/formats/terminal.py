"""What ``scan`` shows a person at a terminal: what was read, findings grouped by rule and file, what next.

The grep-friendly ``text`` format stays one line per finding; this view is
for a terminal when no ``--format`` was chosen. It holds what the other
renderings hold (paths, rules, ≤4-character previews, hashes), never a value.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from pathlib import Path

from sanitize.scan.formats import text
from sanitize.scan.formats._describe import clean, describe, human_size
from sanitize.scan.report import ScanReport

MAX_FILES_PER_RULE = 5


def scope_line(report: ScanReport, scope: str) -> str:
    """``<scope> of <source>: N refs, C commits, B blobs (size) in S s``."""
    s = report.stats
    parts = [f"{s.blobs:,} blob(s) ({human_size(s.bytes)})"]
    if scope == "history":
        parts = [f"{len(report.refs):,} ref(s)", f"{s.commits:,} commit(s)", *parts]
    elif scope != "staged change":
        parts = [f"{s.commits:,} commit(s)", *parts]
    return f"scanned the {scope} of {clean(report.source)}: {', '.join(parts)} in {s.seconds:.1f} s"


def clean_line(report: ScanReport, scope: str) -> str:
    """The one line a clean scan prints."""
    return "clean: no secrets found; " + scope_line(report, scope)


def render(report: ScanReport, scope: str = "history", *, verbose: bool = False) -> str:
    """Header, per-rule groups with file counts, every finding (with ``verbose``), and the next command."""
    if not report.findings:
        return clean_line(report, scope) + "\n"
    lines = [scope_line(report, scope), ""]
    distinct = len({f.secret_sha256 for f in report.findings})
    lines.append(f"{len(report.findings)} finding(s), {distinct} distinct secret(s):")
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for f in report.findings:
        by_rule[f.rule][f.path or (f.place if f.name else "<commit message>")] += 1
    width = max(len(clean(r)) for r in by_rule)
    for rule in sorted(by_rule, key=lambda r: (-describe(r).severity, r)):
        files = by_rule[rule]
        shown = ", ".join(f"{clean(p)} ({n})" if n > 1 else clean(p) for p, n in files.most_common(MAX_FILES_PER_RULE))
        more = f" and {len(files) - MAX_FILES_PER_RULE} more file(s)" if len(files) > MAX_FILES_PER_RULE else ""
        lines.append(f"  {clean(rule):<{width}}  {sum(files.values()):>4}  {describe(rule).title}: {shown}{more}")
    if verbose:
        lines += ["", *(text.line(f) for f in report.findings)]
    lines.append("")
    lines += _next(report, scope)
    return "\n".join(lines) + "\n"


def _next(report: ScanReport, scope: str) -> list[str]:
    if scope == "staged change":
        return ["next: remove the values (read them from the environment or a secret store), `git add`, commit again"]
    if scope.startswith("commits"):
        return ["next: rewrite those commits without the values (git commit --amend, git rebase -i) before they are "
                "pushed; if they were pushed already, rotate the values and purge the history"]
    src = shlex.quote(report.source)
    # The plan's plan.secrets holds every value: keep it beside the repository, never in its work tree.
    local = Path(report.source)
    where = local.parent / f"{local.name.removesuffix('.git')}-purge" if local.is_absolute() else Path("purge")
    w = shlex.quote(str(where))
    return ["next: treat each value as leaked and rotate it; to purge it from history:",
            f"  mkdir -m 700 -p {w} && git-sanitize scan {src} -o {w}/findings.json && "
            f"git-sanitize plan {w}/findings.json -o {w}/plan.json"]
