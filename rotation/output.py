"""What a hook, consumer or proof printed, kept for the rotation log with every value taken out.

An operator debugging a failed restart needs its stderr, and a hook may echo
what it read. Before any of it is kept, every form of the values in play
(raw, a DSN's password, percent-, JSON- and base64-encoded, plus whatever a
proof sent, such as a signed token) is replaced by ``[redacted]``; only then is
the text cut to its tail, so a value cut in half cannot survive the cut.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import quote

from rotation.generate import dsn_password
from sanitize.secret import Secret

MASK = "[redacted]"
#: Characters of output kept per step (the end of it: where errors are).
MAX_KEPT = 2000


def _encodings(raw: str) -> set[str]:
    data = raw.encode("utf-8", "surrogateescape")
    return {raw, quote(raw, safe=""), quote(raw), json.dumps(raw)[1:-1], base64.b64encode(data).decode(),
            base64.urlsafe_b64encode(data).decode().rstrip("=")}


def forms(values: Iterable[Secret]) -> list[str]:
    """Every string that would disclose one of ``values``, longest first."""
    out: set[str] = set()
    for value in values:
        raw = value.reveal()
        if not raw:
            continue
        out |= _encodings(raw)
        pw = dsn_password(raw)
        if pw:
            out |= _encodings(pw)
    return sorted((f for f in out if f), key=len, reverse=True)


def redact(text: str, values: Iterable[Secret]) -> str:
    """``text`` with every form of every value replaced by ``[redacted]``."""
    for form in forms(values):
        text = text.replace(form, MASK)
    return text


def kept(data: bytes | str | None, values: Iterable[Secret]) -> str:
    """Output as the log keeps it: decoded, redacted, then cut to its last MAX_KEPT characters."""
    if not data:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = redact(text, values).strip()
    if len(text) > MAX_KEPT:
        text = "…" + text[-MAX_KEPT:]
    return text
