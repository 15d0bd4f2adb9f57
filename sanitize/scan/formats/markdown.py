"""A Markdown summary for the humans running the purge: counts, a table, what to do next."""

from __future__ import annotations

from collections import Counter

from sanitize.scan.formats._describe import clean, describe, human_size
from sanitize.scan.report import KINDS, Finding, ScanReport

MAX_ROWS = 1000  # beyond this the table stops helping; findings.json has everything
MAX_REFS_SHOWN = 3


def render(report: ScanReport) -> str:
    """The whole Markdown document."""
    s = report.stats
    out = [
        "# Secret scan report",
        "",
        f"Source: {_code(report.source)}  ",
        f"Scanned {len(report.refs)} refs, {s.commits} commits, {s.blobs} unique blobs "
        f"({human_size(s.bytes)}) in {s.seconds:.1f} s.",
        "",
    ]
    if not report.findings:
        out += ["**No secrets found** in any ref's history.", ""]
        return "\n".join(out)

    secrets = {f.secret_sha256 for f in report.findings}
    by_kind: Counter[str] = Counter(f.kind for f in report.findings)
    out += [
        f"**{len(report.findings)} findings** ({len(secrets)} distinct secrets): "
        + ", ".join(f"{by_kind[k]} {k}" for k in KINDS if by_kind[k]) + ".",
        "",
        *_context_summary(report.findings),
        "## Summary by rule",
        "",
        "| Rule | Kind | Findings | Distinct secrets | Severity |",
        "|---|---|---:|---:|---:|",
    ]
    rules: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        rules.setdefault((f.rule, f.kind), []).append(f)
    for (rule, kind), fs in sorted(rules.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        info = describe(rule)
        out.append(f"| {_code(rule)} {_cell(info.title)} | {kind} | {len(fs)} | "
                   f"{len({f.secret_sha256 for f in fs})} | {info.severity:.1f} |")

    out += ["", "## Distinct secrets", "",
            "Each secret once (a secret in many versions of a file is one row here, one finding per blob below).",
            "", "| Rule | Preview | Where | Findings | Paths | Commit (first listed) |", "|---|---|---|---:|---|---|"]
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        groups.setdefault((f.rule, f.secret_sha256), []).append(f)
    for (rule, _sha), fs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_ROWS]:
        paths = sorted({f.path if f.path is not None else f.place if f.name else "(message)" for f in fs})
        shown = ", ".join(_code(p) for p in paths[:MAX_REFS_SHOWN])
        shown += f" +{len(paths) - MAX_REFS_SHOWN} more" if len(paths) > MAX_REFS_SHOWN else ""
        first = fs[0]
        where = f"{_code(first.commit[:12])}" if first.commit else ""
        out.append(f"| {_code(rule)} | {_code(first.preview)} | {_where(fs)} | {len(fs)} | {shown} | {where} |")

    out += ["", "## Findings", "", "| Rule | Path | Line | Commit | Refs | Preview |", "|---|---|---:|---|---|---|"]
    for f in report.findings[:MAX_ROWS]:
        path = _code(f.path) if f.path is not None else f"(message of {_code((f.commit or '?')[:12])})"
        path = _code(f.place) if f.name else path
        path += f" ({_where([f])})" if f.context or f.confidence else ""
        line = str(f.line) if f.line else ""
        commit = _code(f.commit[:12]) if f.commit else ""
        out.append(f"| {_code(f.rule)} | {path} | {line} | {commit} | {_refs(f.refs)} | {_code(f.preview)} |")
    if len(report.findings) > MAX_ROWS:
        out += ["", f"… and {len(report.findings) - MAX_ROWS} more: see the JSON findings file."]

    out += [
        "",
        "## What to do next",
        "",
        "1. Treat every secret above as **compromised**: it is in history that others have cloned. "
        "Rewriting history does not un-leak it; rotation does.",
        "2. Save the findings as JSON (`git-sanitize scan --format json -o findings.json`) and make a plan: "
        "`git-sanitize plan findings.json -o plan.json`. Review `plan.md`; keep false positives out with "
        "a baseline (`--baseline`).",
        "3. Rewrite a mirror: `git-sanitize rewrite plan.json --workdir DIR` (the rescan must be clean).",
        "4. Tell collaborators (`git-sanitize notify`), collect approvals (`git-sanitize approve`), then "
        "`git-sanitize push` and `git-sanitize verify`.",
        "5. Rotate every exposed secret: `git-sanitize rotate --config rotation.yml --mode compromised`.",
        "6. Fix the code that held literals (hardcoded defaults) so the secret comes from the environment or a store.",
        "",
        "The coordinated-purge playbook runs these steps in order and stops at the approval gate: "
        "`git-sanitize run PLAYBOOK`.",
        "",
    ]
    return "\n".join(out)


def _context_summary(findings: list[Finding]) -> list[str]:
    """One line: distinct secrets per context and confidence, so a reviewer sees where to look first."""
    seen: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        if f.context or f.confidence:
            seen.setdefault((f.context or "?", f.confidence or "?"), set()).add(f.secret_sha256)
    if not seen:
        return []
    parts = [f"{len(v)} {ctx}/{conf}" for (ctx, conf), v in sorted(seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    return ["Distinct secrets by context/confidence: " + ", ".join(_cell(p) for p in parts) + ".", ""]


def _where(fs: list[Finding]) -> str:
    """``test, low`` for a group of findings (every context and confidence they have)."""
    contexts = sorted({f.context for f in fs if f.context})
    confs = sorted({f.confidence for f in fs if f.confidence})
    return _cell(", ".join(["/".join(contexts), "/".join(confs)]).strip(", "))


def _cell(text: str) -> str:
    """Table-safe text: no pipes or newlines break the row."""
    return clean(text).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code that survives backticks and pipes inside the text."""
    t = _cell(text)
    fence = "``" if "`" in t else "`"
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _refs(refs: tuple[str, ...]) -> str:
    shown = ", ".join(_code(r) for r in refs[:MAX_REFS_SHOWN])
    more = len(refs) - MAX_REFS_SHOWN
    return shown + (f" +{more} more" if more > 0 else "")
