"""Renderings of a :class:`~sanitize.scan.report.ScanReport` (json, sarif, markdown, text)."""
