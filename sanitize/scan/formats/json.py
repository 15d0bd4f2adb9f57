"""The findings document itself (schema ``git-sanitize/findings/v2``), what ``plan`` reads."""

from __future__ import annotations

from sanitize.scan.report import ScanReport


def render(report: ScanReport) -> str:
    """The documented findings JSON (:meth:`ScanReport.to_json`)."""
    return report.to_json()
