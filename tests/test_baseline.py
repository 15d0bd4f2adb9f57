"""Baselines: our findings JSON by (rule, secret_sha256), detect-secrets baselines by SHA-1 of the value."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sanitize.errors import UsageError
from sanitize.scan.baseline import Baseline, load_baseline, parse_baseline, sha1_hex
from sanitize.scan.report import SCHEMA, Finding, ScanReport, ScanStats
from sanitize.secret import Secret, preview_of, sha256_hex


def fake_value(seed: int, n: int = 40) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def finding(value: str, rule: str = "dsn.password", path: str = "config/db.yml", line: int = 3) -> Finding:
    return Finding(rule=rule, kind="content", path=path, blob="a" * 40, commit="b" * 40, line=line,
                   secret_sha256=sha256_hex(value), preview=preview_of(value), refs=("refs/heads/main",))


def write(tmp_path: Path, doc: Any, name: str = "baseline.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


# --- our own findings file ---------------------------------------------------------------------------------

def test_findings_baseline_suppresses_same_rule_and_secret_anywhere(tmp_path: Path) -> None:
    accepted, other = fake_value(1), fake_value(2)
    p = write(tmp_path, ScanReport(source="/r", refs={}, stats=ScanStats(), findings=[finding(accepted)]).to_json())
    b = load_baseline(p)
    assert b.kind == "findings" and len(b) == 1 and not b.needs_values
    assert b.suppresses(finding(accepted, path="moved/elsewhere.yml", line=99))  # lines and paths move
    assert not b.suppresses(finding(other))
    assert not b.suppresses(finding(accepted, rule="default.jwt-secret"))  # keyed by rule too


def test_an_empty_findings_file_suppresses_nothing(tmp_path: Path) -> None:
    b = load_baseline(write(tmp_path, ScanReport(source="/r", refs={}).to_json()))
    assert len(b) == 0 and not b.suppresses(finding(fake_value(3)))


# --- detect-secrets baselines ------------------------------------------------------------------------------

def test_real_detect_secrets_baseline_matches_by_value(tmp_path: Path) -> None:
    """Made by detect-secrets itself, so the SHA-1 convention is theirs, not our guess."""
    value = fake_value(4)
    src = tmp_path / "src"
    src.mkdir()
    (src / "settings.py").write_text(f'password = "{value}"\n')
    out = subprocess.run([sys.executable, "-m", "detect_secrets", "scan", "settings.py"], cwd=src,
                         capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    assert doc["results"]["settings.py"][0]["hashed_secret"] == sha1_hex(value)
    b = load_baseline(write(tmp_path, out, ".secrets.baseline"))
    assert b.kind == "detect-secrets" and b.needs_values
    f = finding(value, rule="ds.KeywordDetector", path="other/file.py")
    assert b.suppresses(f, value)
    assert b.suppresses(f, Secret(value))
    assert not b.suppresses(f)  # without the value a SHA-1 cannot be matched to our SHA-256
    other = fake_value(5)
    assert not b.suppresses(finding(other), other)


def _ds_doc(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1.5.0", "plugins_used": [], "filters_used": [], "results": {"a.py": list(entries)},
            "generated_at": "2026-01-01T00:00:00Z"}


def test_detect_secrets_entry_audited_as_real_secret_is_not_suppressed(tmp_path: Path) -> None:
    real, false_positive = fake_value(6), fake_value(7)
    doc = _ds_doc({"type": "Secret Keyword", "hashed_secret": sha1_hex(real), "is_secret": True, "line_number": 1},
                  {"type": "Secret Keyword", "hashed_secret": sha1_hex(false_positive).upper(), "is_secret": False,
                   "line_number": 2})
    b = load_baseline(write(tmp_path, doc))
    assert not b.suppresses(finding(real), real)
    assert b.suppresses(finding(false_positive), false_positive)  # hex case does not matter


def test_old_detect_secrets_baseline_without_plugins_is_read(tmp_path: Path) -> None:
    value = fake_value(8)
    doc = {"version": "0.12.7", "exclude": {"files": None, "lines": None},
           "results": {"x.env": [{"type": "Hex High Entropy String", "hashed_secret": sha1_hex(value),
                                  "line_number": 4, "is_verified": False}]}}
    assert load_baseline(write(tmp_path, doc)).suppresses(finding(value), value)


# --- bad input: one UsageError, one line -------------------------------------------------------------------

@pytest.mark.parametrize("doc", [
    "not json at all", "", "[]", "42", '{"foo": 1}', '{"schema": "someone-else/v9", "findings": []}',
    json.dumps({"schema": SCHEMA, "source": "x"}),
    json.dumps({"schema": SCHEMA, "source": "x", "refs": {}, "findings": [{"rule": "r"}]}),
    json.dumps({"version": "1.5.0", "results": []}),
    json.dumps({"version": "1.5.0", "results": {"a": {}}}),
    json.dumps({"version": "1.5.0", "results": {"a": ["x"]}}),
    json.dumps({"version": "1.5.0", "results": {"a": [{"type": "T"}]}}),
    json.dumps({"version": "1.5.0", "results": {"a": [{"type": "T", "hashed_secret": "zz"}]}}),
    json.dumps({"version": "1.5.0", "results": {"a": [{"type": 3, "hashed_secret": "a" * 40}]}}),
    "[" * 100_000,
])
def test_malformed_baselines_are_one_usage_error(tmp_path: Path, doc: str) -> None:
    with pytest.raises(UsageError) as err:
        load_baseline(write(tmp_path, doc))
    assert "\n" not in str(err.value) and str(err.value).startswith("baseline ")


def test_missing_unreadable_and_binary_baselines_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_baseline(tmp_path / "missing.json")
    with pytest.raises(UsageError, match="cannot read"):
        load_baseline(tmp_path)  # a directory
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_baseline(tmp_path / "bin")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)
hexish = st.text(alphabet="0123456789abcdefABCDEFxyz", min_size=38, max_size=42)
ds_entry = st.dictionaries(st.sampled_from(["type", "hashed_secret", "line_number", "is_secret"]),
                           json_values | hexish, max_size=4)
shaped = (
    st.fixed_dictionaries({"schema": st.just(SCHEMA) | json_values}, optional={
        "source": json_values, "refs": json_values, "stats": json_values,
        "findings": st.lists(st.dictionaries(st.sampled_from(["rule", "kind", "secret_sha256", "line", "refs"]),
                                             json_values, max_size=5), max_size=3) | json_values})
    | st.fixed_dictionaries({"version": json_values, "results": st.dictionaries(
        st.text(max_size=5), st.lists(ds_entry | json_values, max_size=3) | json_values, max_size=3) | json_values})
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_values | shaped)
def test_any_json_document_is_a_baseline_or_one_usage_error(tmp_path: Path, doc: Any) -> None:
    try:
        result = load_baseline(write(tmp_path, json.dumps(doc)))
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(result, Baseline)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=64))
def test_any_bytes_are_a_baseline_or_one_usage_error(tmp_path: Path, raw: bytes) -> None:
    p = tmp_path / "b.json"
    p.write_bytes(raw)
    try:
        load_baseline(p)
    except UsageError:
        pass


def test_parse_baseline_accepts_decoded_documents() -> None:
    value = fake_value(9)
    b = parse_baseline(_ds_doc({"type": "T", "hashed_secret": sha1_hex(value)}), "inline")
    assert b.path == "inline" and b.suppresses(finding(value), value)


# --- end to end: the scan engine applies a baseline -------------------------------------------------------

def test_scan_with_its_own_findings_as_baseline_reports_only_new_secrets(story_repo: Any, tmp_path: Path) -> None:
    from sanitize.scan import engine

    first = engine.scan_repository(str(story_repo.path))
    assert first.findings
    keep = first.findings[0]
    accepted = ScanReport(source=first.source, refs=first.refs,
                          findings=[f for f in first.findings if (f.rule, f.secret_sha256) != (keep.rule,
                                                                                               keep.secret_sha256)])
    again = engine.scan_repository(str(story_repo.path), baseline=str(write(tmp_path, accepted.to_json())))
    assert again.findings and {(f.rule, f.secret_sha256) for f in again.findings} == {(keep.rule, keep.secret_sha256)}
    everything = write(tmp_path, first.to_json(), "all.json")
    assert engine.scan_repository(str(story_repo.path), baseline=str(everything)).findings == []


def test_scan_matches_a_detect_secrets_baseline_by_value(story_repo: Any, tmp_path: Path) -> None:
    from sanitize.scan import engine

    content = [p for p in story_repo.planted if p.kind == "content"]
    target = content[0]
    doc = _ds_doc({"type": "Secret Keyword", "hashed_secret": sha1_hex(target.value), "line_number": 1})
    report = engine.scan_repository(str(story_repo.path), baseline=str(write(tmp_path, doc, ".secrets.baseline")))
    hashes = {f.secret_sha256 for f in report.findings}
    assert sha256_hex(target.value) not in hashes  # suppressed through the SHA-1 of the value
    assert all(sha256_hex(p.value) in hashes for p in content[1:] if p.value != target.value)
