"""Locations of repositories: a local path or a URL, and how one may be shown."""

from __future__ import annotations

import re
from pathlib import Path

_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|[^/\s:@]+@[^/\s:]+:)")


def is_url(location: str) -> bool:
    """A URL (``scheme://`` or scp-like ``user@host:path``) rather than a local path."""
    return bool(_URL.match(location)) and not Path(location).exists()


def redact_url(location: str) -> str:
    """A location as it may be shown or logged: any user info in a URL (a token may sit there) becomes ``***``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1***@", location)
