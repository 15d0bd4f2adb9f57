"""Locations of repositories: a local path or a URL, and how one may be shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sanitize.errors import UsageError

if TYPE_CHECKING:
    from sanitize.workdir import Workdir

_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|[^/\s:@]+@[^/\s:]+:)")


def is_url(location: str) -> bool:
    """A URL (``scheme://`` or scp-like ``user@host:path``) rather than a local path."""
    return bool(_URL.match(location)) and not Path(location).exists()


def redact_url(text: str) -> str:
    """A location (or a message naming one) as it may be shown or logged: the user info of every URL in it
    (a token may sit there) becomes ``***``."""
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@", r"\1***@", text)


def resolve_remote(wd: Workdir, remote: str | None) -> str:
    """The push target: ``--remote`` or the plan's source."""
    from sanitize.approval import rewrite_detail  # the rewrite's record; approval itself uses this layer

    target = remote or rewrite_detail(wd).get("source")
    if not target:
        raise UsageError("no remote: pass --remote URL (the plan records no source)")
    return str(target)
