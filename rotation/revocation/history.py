"""Tokens found only in the git history: their values, read from the purge's workdir for ``rotate --revoke``.

A GitHub, GitLab or Slack token the scan found in the history is usually in no store, and ``findings.json``
holds only its SHA-256. The purge's plan stage wrote the values it replaces to ``plan.secrets`` (0600) beside
``plan.json``; :func:`history_values` reads them back (through :func:`sanitize.purge.plan.load_plan`, which
refuses a plan whose digest no longer matches, or a ``plan.secrets`` others can read) and keeps only those
whose SHA-256 a finding names. Nothing in the workdir is written, locked or changed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sanitize.errors import UsageError
from sanitize.scan.report import ScanReport
from sanitize.secret import Secret

FINDINGS = "findings.json"
PLAN = "plan.json"


@dataclass(frozen=True)
class HistorySource:
    """Where ``--revoke`` takes the history's token values from, and the findings that name them."""

    workdir: Path
    findings: Path


def resolve(workdir: str | None, findings: str | None) -> HistorySource | None:
    """``--workdir`` (its findings.json unless ``--findings`` names one), or a ``--findings`` file that sits
    in a workdir beside a plan.json; None when neither gives a workdir. UsageError for a bad workdir."""
    if workdir is None:
        if findings is None or not (Path(findings).parent / PLAN).is_file():
            return None
        root = Path(findings).parent
    else:
        root = Path(workdir)
    try:
        st = os.lstat(root)
    except OSError:
        raise UsageError(f"--workdir {root}: no such directory") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"--workdir {root}: a symlink or not a directory; name the purge's real workdir")
    if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise UsageError(f"--workdir {root}: not a private directory of yours (mode "
                         f"{stat.S_IMODE(st.st_mode):o}); it holds leaked values: chmod 700 it")
    found = Path(findings) if findings is not None else root / FINDINGS
    if not found.is_file():
        raise UsageError(f"--workdir {root}: no {FINDINGS}; pass the scan's findings with --findings")
    if not (root / PLAN).is_file():
        raise UsageError(f"--workdir {root}: no {PLAN} (+ plan.secrets); run `git-sanitize plan` first")
    return HistorySource(workdir=root, findings=found)


def history_values(source: HistorySource) -> dict[str, Secret]:
    """SHA-256 → value for every finding whose value the workdir's plan.secrets holds (read only)."""
    from sanitize.purge.plan import load_plan

    plan = load_plan(source.workdir / PLAN)
    wanted = {f.secret_sha256 for f in ScanReport.load(source.findings).findings}
    return {v.sha256: v for v in plan.secret_values() if v.sha256 in wanted}
