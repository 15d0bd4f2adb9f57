"""Reading the files a user names (findings, plans, playbooks, rules): one clear line when they can't be read."""

from __future__ import annotations

import os
from pathlib import Path

from sanitize.errors import UsageError


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of ``path``; UsageError naming ``what`` if it is missing or unreadable."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{p}: no such {what}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{p}: cannot read {what} ({exc.__class__.__name__})") from exc
