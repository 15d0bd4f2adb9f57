"""One line per finding, for terminals and grep: ``path:line: rule [kind, context, confidence] commit refs preview``."""

from __future__ import annotations

from sanitize.scan.formats._describe import clean
from sanitize.scan.report import Finding, ScanReport


def render(report: ScanReport) -> str:
    """Every finding on its own line; empty text when the history is clean."""
    return "".join(line(f) + "\n" for f in report.findings)


def line(f: Finding) -> str:
    """One finding as one line: every field from the findings file is escaped (a path may hold a newline)."""
    if f.kind == "message" or f.name:
        where = clean(f.place)
    else:
        where = clean(f.path or "?") + (f":{f.line}" if f.line else "")
    commit = f" commit {clean(f.commit[:12])}" if f.commit and f.kind != "message" else ""
    refs = ""
    if f.refs:
        refs = f" refs {clean(f.refs[0])}" + (f" +{len(f.refs) - 1}" if len(f.refs) > 1 else "")
    tags = ", ".join(clean(t) for t in (f.kind, f.context, f.confidence) if t)
    return (f"{where}: {clean(f.rule)} [{tags}]{commit}{refs} preview {clean(f.preview)} "
            f"sha256 {clean(f.secret_sha256[:12])}")
