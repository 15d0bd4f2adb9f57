"""SARIF 2.1.0 for GitHub code scanning (``github/codeql-action/upload-sarif``).

What GitHub needs and we give: ``runs[0].tool.driver.rules`` with an id, a
short description and ``properties.security-severity``; per result a
``ruleId``, ``level``, ``message.text``, one physical location with a
relative URI and ``region.startLine >= 1``, and ``partialFingerprints`` so
the same secret is tracked across uploads. The message never holds the
value, nor its preview: SARIF is uploaded to a third party.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from sanitize import __version__
from sanitize.scan.formats._describe import clean, describe
from sanitize.scan.report import Finding, ScanReport

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
FINGERPRINT = "secretSha256/v1"
MAX_REFS = 20  # a finding can be reachable from thousands of refs; keep the log small


def render(report: ScanReport) -> str:
    """The SARIF log as indented JSON text."""
    return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"


def to_sarif(report: ScanReport) -> dict[str, Any]:
    """The SARIF log as a dict (one run)."""
    rule_ids = sorted({f.rule for f in report.findings})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    return {
        "$schema": SCHEMA_URI,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "git-sanitize",
                "semanticVersion": __version__,
                "rules": [_rule(r) for r in rule_ids],
            }},
            "results": [_result(f, index[f.rule]) for f in report.findings],
            "columnKind": "unicodeCodePoints",
            "properties": {
                "source": report.source,
                "refs": len(report.refs),
                "stats": {"commits": report.stats.commits, "blobs": report.stats.blobs,
                          "bytes": report.stats.bytes, "seconds": report.stats.seconds},
            },
        }],
    }


def _rule(rule: str) -> dict[str, Any]:
    info = describe(rule)
    return {
        "id": rule,
        "name": "".join(part.capitalize() for part in rule.replace("-", ".").replace("_", ".").split(".") if part),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.description or f"{info.title}, reachable from a ref of the history."},
        "help": {"text": info.remedy, "markdown": info.remedy},
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "security-severity": f"{info.severity:.1f}",
            "precision": "high",
            "tags": ["security", "secret"],
        },
    }


def artifact_uri(finding: Finding) -> str:
    """A relative URI for the finding: its path (percent-encoded), or a pseudo-path for messages."""
    if finding.path:
        # Git paths are bytes; ours decode them with surrogateescape, so encode back the same way.
        return quote(finding.path.encode("utf-8", "surrogateescape"), safe="/")
    if finding.name:
        return f"git-{finding.kind}/{quote(finding.name.encode('utf-8', 'surrogateescape'), safe='')}"
    if finding.kind != "message":
        return "unknown-path"  # a malformed findings file; a location is still required
    return f"git-message/{quote((finding.commit or 'unknown').encode('utf-8', 'surrogateescape'), safe='')}"


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    where = f"the message of {f.commit[:12]}" if f.kind == "message" and f.commit else clean(f.path or f.place)
    commit = f" (introduced in {f.commit[:12]})" if f.commit and f.kind != "message" else ""
    reach = f"; reachable from {len(f.refs)} ref{'s' if len(f.refs) != 1 else ''}" if f.refs else ""
    line = f.line if f.kind == "content" and f.line and f.line >= 1 else 1
    return {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": "error",
        "kind": "fail",
        "message": {"text": f"{describe(f.rule).title} in {where}{commit}{reach}."},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(f)},
            "region": {"startLine": line},
        }}],
        "partialFingerprints": {FINGERPRINT: f.secret_sha256},
        "properties": {
            "findingId": f.id,
            "kind": f.kind,
            "commit": f.commit,
            "blob": f.blob,
            "refs": list(f.refs[:MAX_REFS]),
            "refCount": len(f.refs),
            **{k: v for k, v in (("context", f.context), ("confidence", f.confidence)) if v},
        },
    }
