"""The findings document: round-trips, and any malformed input is one UsageError (never a traceback)."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize.errors import UsageError
from sanitize.scan.report import SCHEMA, Finding, ScanReport, ScanStats
from sanitize.secret import sha256_hex


def sample_report() -> ScanReport:
    f = Finding(rule="dsn-password", kind="content", path="config/db.yml", blob="a" * 40, commit="b" * 40,
                line=3, secret_sha256=sha256_hex("seeded-value"), preview="se…", refs=("refs/heads/main",))
    return ScanReport(source="/repo", refs={"refs/heads/main": "b" * 40},
                      stats=ScanStats(commits=1, blobs=2, bytes=30, seconds=0.1), findings=[f])


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    report = sample_report()
    path = tmp_path / "findings.json"
    path.write_text(report.to_json())
    loaded = ScanReport.load(path)
    assert loaded == report
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA
    assert set(doc["findings"][0]) >= {"rule", "kind", "path", "blob", "commit", "line", "secret_sha256",
                                       "preview", "refs"}


def test_finding_id_ignores_line_numbers() -> None:
    f = sample_report().findings[0]
    moved = Finding(**{**f.__dict__, "line": 99})
    assert moved.id == f.id


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"schema": "other"}', "not json",
                                  json.dumps({"schema": SCHEMA, "source": "x"}),
                                  json.dumps({"schema": SCHEMA, "source": "x", "refs": {}, "findings": [{}]}),
                                  json.dumps({"schema": SCHEMA, "source": "x", "refs": {}, "findings": [
                                      {**sample_report().findings[0].to_dict(), "line": 1e999}]})])
def test_malformed_findings_files_are_usage_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(UsageError):
        ScanReport.load(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"schema": st.just(SCHEMA)}, optional={
    "source": json_values, "refs": json_values, "stats": json_values,
    "findings": st.lists(st.dictionaries(st.sampled_from(["rule", "kind", "path", "blob", "commit", "line",
                                                          "secret_sha256", "preview", "refs"]), json_values),
                         max_size=3)}))
def test_any_document_loads_or_raises_usage_error(doc: dict) -> None:
    try:
        ScanReport.from_dict(doc)
    except UsageError as exc:
        assert "\n" not in str(exc)
