"""The JSON schemas (draft 2020-12) of the artifacts, shipped in the package: ``git-sanitize schema NAME``."""

from __future__ import annotations

from importlib import resources

from sanitize.errors import UsageError

#: name → what it describes (the file is ``schemas/NAME.json``)
NAMES: dict[str, str] = {
    "findings": "scan --format json (findings.json)",
    "plan": "plan.json",
    "rewrite-record": "the rewrite's record in state.json",
    "rewrite-report": "WORKDIR/rewrite-report.json",
    "approval": "one file in WORKDIR/approvals/",
    "state": "WORKDIR/state.json",
    "rotation-run": "one line of rotate's JSON output (rotation.log)",
}


def schema_text(name: str) -> str:
    """The schema document named ``name``; UsageError listing the names for any other."""
    if name not in NAMES:
        raise UsageError(f"no schema named {name[:40]!r}; choose one of: {', '.join(NAMES)}")
    return (resources.files("sanitize.artifacts") / "schemas" / f"{name}.json").read_text(encoding="utf-8")
