"""The findings document: round-trips, and any malformed input is one UsageError (never a traceback)."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitize.errors import UsageError
from sanitize.scan.report import READABLE, SCHEMA, Finding, ScanReport, ScanStats, decode_ref_set, encode_ref_set
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
                                       "preview", "ref_set"}
    assert doc["ref_sets"][doc["findings"][0]["ref_set"]] == {"all_but": []}


def test_finding_id_ignores_line_numbers() -> None:
    f = sample_report().findings[0]
    moved = Finding(**{**f.__dict__, "line": 99})
    assert moved.id == f.id


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"schema": "other"}', "not json",
                                  json.dumps({"schema": SCHEMA, "source": "x"}),
                                  json.dumps({"schema": SCHEMA, "source": "x", "refs": {}, "findings": [{}]}),
                                  json.dumps({"schema": SCHEMA, "source": "x", "refs": {}, "findings": [
                                      {**sample_report().findings[0].to_dict(0), "line": 1e999}]}),
                                  json.dumps({"schema": SCHEMA, "source": "x", "refs": {}, "ref_sets": [],
                                              "findings": [sample_report().findings[0].to_dict(0)]}),
                                  json.dumps({"schema": SCHEMA, "source": "x", "refs": {"r": "a"},
                                              "ref_sets": [{"only": [[0, 5]]}],
                                              "findings": [sample_report().findings[0].to_dict(0)]})])
def test_malformed_findings_files_are_usage_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(UsageError):
        ScanReport.load(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"schema": st.sampled_from(READABLE)}, optional={
    "source": json_values, "refs": json_values, "stats": json_values, "ref_sets": json_values,
    "findings": st.lists(st.dictionaries(st.sampled_from(["rule", "kind", "path", "blob", "commit", "line",
                                                          "secret_sha256", "preview", "ref_set"]), json_values),
                         max_size=3)}))
def test_any_document_loads_or_raises_usage_error(doc: dict) -> None:
    try:
        ScanReport.from_dict(doc)
    except UsageError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=60).flatmap(
    lambda n: st.tuples(st.just(n), st.sets(st.integers(min_value=0, max_value=max(n - 1, 0)), max_size=n))))
def test_ref_sets_round_trip_and_pick_the_shorter_form(case: tuple[int, set[int]]) -> None:
    total, chosen = case
    chosen = {i for i in chosen if i < total}
    encoded = encode_ref_set(sorted(chosen), total)
    assert decode_ref_set(encoded, total) == sorted(chosen)
    (form, items), = encoded.items()
    assert form == ("only" if len(chosen) * 2 <= total else "all_but")
    assert len(items) <= min(len(chosen), total - len(chosen)) or len(items) <= len(chosen)


def _many_refs_report(n_refs: int, n_findings: int) -> ScanReport:
    refs = {f"refs/pull/{i}/head": f"{i:040x}" for i in range(n_refs)} | {"refs/heads/main": "f" * 40}
    everything = tuple(sorted(refs))
    but_main = tuple(r for r in everything if r != "refs/heads/main")
    findings = [Finding(rule="r", kind="content", path=f"p{i}", blob=f"{i:040x}", commit=f"{i:040x}", line=1,
                        secret_sha256=sha256_hex(f"v{i}"), preview="v…", refs=everything if i % 2 else but_main)
                for i in range(n_findings)]
    return ScanReport(source="/repo", refs=refs, findings=findings)


def test_findings_json_stays_small_with_thousands_of_refs() -> None:
    """Each distinct set of reaching refs is written once, as the shorter of 'only' and 'all_but'."""
    report = _many_refs_report(4000, 800)
    text = report.to_json()
    assert len(text) < 80 * len(report.refs) + 500 * len(report.findings), len(text)  # v1: 80 MB
    assert len(json.loads(text)["ref_sets"]) == 2
    assert ScanReport.from_dict(json.loads(text)) == report


def test_a_v1_document_is_upgraded_on_read() -> None:
    report = _many_refs_report(5, 4)
    v1 = {"schema": "git-sanitize/findings/v1", "source": report.source, "refs": report.refs,
          "stats": {"commits": 0, "blobs": 0, "bytes": 0, "seconds": 0.0},
          "findings": [{k: v for k, v in f.to_dict(0).items() if k != "ref_set"} | {"refs": list(f.refs)}
                       for f in report.findings]}
    assert ScanReport.from_dict(v1) == report
    with pytest.raises(UsageError, match="not in the document's refs"):
        ScanReport.from_dict({**v1, "findings": [{**v1["findings"][0], "refs": ["refs/heads/gone"]}]})
