"""HTTP for webhook consumers and proof checks: the one place rotation sends a request of its own.

Proof checks carry the new and the leaked credential, webhooks a bearer
token, so two rules hold for both: plain ``http://`` only to a loopback
address (anything else must be ``https://``), and redirects are never
followed (urllib would forward the ``Authorization`` header to wherever a
redirect points; a 3xx is reported as the answer instead).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rotation.errors import ConfigError

LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: Bytes of a response body read (and, redacted, kept).
BODY_LIMIT = 65536


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer (status and the start of its body), or why there was none (``status`` 0)."""

    status: int
    body: bytes = b""
    error: str = ""


def check_url(url: object, key: str) -> str:
    """``url`` if it is https, or http to a loopback address, without credentials; else ConfigError."""
    if not isinstance(url, str) or not url.isprintable():
        raise ConfigError(f"'{key}' must be an http(s) URL")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ConfigError(f"'{key}' must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"'{key}' must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"'{key}' must be a URL without credentials")
    if parts.scheme == "http" and host not in LOOPBACK:
        raise ConfigError(f"'{key}' must use https (plain http only to 127.0.0.1/localhost): it carries a credential")
    return url


def send(url: str, *, method: str, headers: dict[str, str], data: bytes | None = None, timeout: int) -> Answer:
    """One request, redirects not followed; never raises for HTTP or network failures."""
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - checked
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            return Answer(status=resp.status, body=resp.read(BODY_LIMIT))
    except urllib.error.HTTPError as exc:
        body = exc.read(BODY_LIMIT) if exc.fp is not None else b""
        return Answer(status=exc.code, body=body)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(status=0, error=type(reason).__name__)
