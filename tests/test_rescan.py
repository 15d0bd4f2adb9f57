"""The rescan's verdict: every finding grouped by what the plan decided, never a bare "clean"."""

from __future__ import annotations

from sanitize.artifacts.plan_review import Dropped, HeldBack
from sanitize.purge.rescan import Remaining
from sanitize.scan.report import Finding
from sanitize.secret import sha256_hex


def _finding(value: str, kind: str = "content", path: str = "app.py") -> Finding:
    return Finding(rule="keyword.password", kind=kind, path=path, blob="b" * 40, commit="c" * 40, line=1,  # type: ignore[arg-type]
                   secret_sha256=sha256_hex(value), preview=value[:4] + "…")


def _held(sha: str) -> HeldBack:
    return HeldBack(secret_sha256=sha, preview="valu", rules=("keyword.password",), contexts=("test",),
                    confidence=("low",), finding_ids=("h",), paths=("app.py",), include="--include h", reason="low")


def _dropped(sha: str) -> Dropped:
    return Dropped(finding_id="x", rule="keyword.password", kind="content", path="app.py", preview="valu",
                   secret_sha256=sha, context="source", confidence="high", reason="--drop")


def test_findings_are_grouped_by_the_plans_decision() -> None:
    planned, held, dropped, new = (_finding(f"value-{n}-x9Qz") for n in range(4))
    key = _finding("key-bytes", kind="path", path="certs/key.pem")
    left = Remaining.of([planned, held, dropped, new, key], planned_sha256s={planned.secret_sha256},
                        planned_paths={"certs/key.pem"}, held_back=[_held(held.secret_sha256)],
                        dropped=[_dropped(dropped.secret_sha256)])
    assert left.planned == (planned, key) and left.held_back == (held,)
    assert left.dropped == (dropped,) and left.unplanned == (new,)
    line = left.describe()
    assert "5 finding(s) of 3 value(s)" in line and "2 the plan removes (FAILED)" in line
    assert "1 held back for review" in line and "1 dropped as false positives" in line and "1 not in the plan" in line
    doc = left.to_dict()
    assert doc["total"] == 5 and doc["unplanned"]["first"][0]["secret_sha256"] == new.secret_sha256
    assert "value-3" not in str(doc)  # previews of at most 4 characters, never a value


def test_nothing_left_says_so() -> None:
    assert Remaining.of([], planned_sha256s=set(), planned_paths=set()).describe() == "the rescan finds nothing"
