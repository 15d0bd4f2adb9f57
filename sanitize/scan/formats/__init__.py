"""Renderings of a :class:`~sanitize.scan.report.ScanReport`: json, sarif, markdown, text.

One module per format, each with ``render(report) -> str``; :func:`render`
dispatches on :class:`Format`. No rendering ever contains a secret value: a
finding only carries ``secret_sha256`` and a preview of at most 4 characters.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import assert_never

from sanitize.errors import UsageError
from sanitize.scan.report import ScanReport


class Format(StrEnum):
    """The ``scan --format`` choices (a str Enum: click and JSON take the members as they are)."""

    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    TEXT = "text"

    def renderer(self) -> Callable[[ScanReport], str]:
        """The module-level ``render`` of this format (imported lazily: the CLI pays for one)."""
        if self is Format.JSON:
            from sanitize.scan.formats import json

            return json.render
        if self is Format.SARIF:
            from sanitize.scan.formats import sarif

            return sarif.render
        if self is Format.MARKDOWN:
            from sanitize.scan.formats import markdown

            return markdown.render
        if self is Format.TEXT:
            from sanitize.scan.formats import text

            return text.render
        assert_never(self)

    @classmethod
    def parse(cls, name: str | Format) -> Format:
        """``Format(name)`` with a UsageError naming the choices instead of a ValueError."""
        if isinstance(name, Format):
            return name
        try:
            return cls(str(name).strip().lower())
        except ValueError:
            choices = ", ".join(f.value for f in cls)
            raise UsageError(f"unknown output format {name!r} (choose one of: {choices})") from None


FORMATS: tuple[str, ...] = tuple(f.value for f in Format)


def render(report: ScanReport, fmt: str | Format) -> str:
    """Render ``report`` in format ``fmt`` (a :class:`Format` or its name); UsageError if unknown."""
    return Format.parse(fmt).renderer()(report)


def suffix_for(fmt: str | Format) -> str:
    """The conventional file suffix of a format (``findings.sarif``, ``findings.md``)."""
    f = Format.parse(fmt)
    return {Format.JSON: ".json", Format.SARIF: ".sarif", Format.MARKDOWN: ".md", Format.TEXT: ".txt"}[f]


__all__ = ["FORMATS", "Format", "render", "suffix_for"]
