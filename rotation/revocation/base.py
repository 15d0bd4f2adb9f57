"""What a provider revocation is: one call that asks the provider to revoke a leaked token, and one check
with the leaked token that must be refused afterwards.

A provider is a few declarative lines (its id, label, credential kind, default API base URL and the
environment variable that overrides it) plus two small methods, ``revoke`` and ``check``, that each send one
documented request through :mod:`rotation.webcall` and read its answer. Nothing here decides a state: the
caller (:func:`rotation.revocation.revoke_one`) counts a credential as revoked only when the provider
accepted the call *and* the check was refused. Every answer body kept in a result is redacted first.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from rotation.output import kept
from rotation.webcall import Answer, send
from sanitize.secret import Secret

#: Seconds one HTTP request to a provider may take.
TIMEOUT = 15
USER_AGENT = "git-sanitize-revocation"


@dataclass(frozen=True)
class Call:
    """One answer to a revoke call: ``accepted`` is the provider's yes; ``detail`` says what it answered."""

    accepted: bool
    detail: str


@dataclass(frozen=True)
class Check:
    """The follow-up check with the leaked token: ``refused`` True (dead), False (still accepted), None (no
    answer that says either: rate limit, server error, unreachable)."""

    refused: bool | None
    detail: str


@dataclass(frozen=True)
class Endpoint:
    """Where a provider's API is and, for GitHub Enterprise Server, the token its revoke endpoint needs."""

    api_url: str
    auth: Secret | None = None


class Provider(ABC):
    """A provider with a public revocation API for one kind of credential."""

    id: str  # config key under `revocation:`, audit log's `provider`
    label: str  # the provider's name for people
    kind: str  # the rotation.kinds id it revokes
    default_api: str  # base URL the documented paths are relative to
    env: str  # environment variable that overrides the base URL
    asynchronous: bool = False  # the provider queues the revocation: the check may still pass for a while
    revoke_call: str  # the documented request, for messages ("POST /credentials/revoke")
    check_call: str  # the follow-up request with the leaked token

    @abstractmethod
    def revoke(self, endpoint: Endpoint, token: Secret) -> Call:
        """Ask the provider to revoke ``token``."""

    @abstractmethod
    def check(self, endpoint: Endpoint, token: Secret) -> Check:
        """Try ``token`` once: refused, accepted, or no answer."""

    def url(self, endpoint: Endpoint, path: str) -> str:
        """``path`` under the configured base URL."""
        return endpoint.api_url.rstrip("/") + path


def request(url: str, *, method: str, headers: dict[str, str], body: bytes | None = None) -> Answer:
    """One request to a provider (redirects not followed: the leaked token is in a header)."""
    return send(url, method=method, headers={"User-Agent": USER_AGENT, **headers}, data=body, timeout=TIMEOUT)


def said(answer: Answer, token: Secret) -> str:
    """What an answer says, for the log: its status and its redacted body (or why there was none)."""
    if answer.status == 0:
        return f"no answer ({answer.error or 'unreachable'})"
    body = kept(answer.body, [token])
    return f"HTTP {answer.status}" + (f": {' '.join(body.split())[:300]}" if body else "")


def json_body(answer: Answer) -> dict[str, Any]:
    """The answer's JSON object, or {} when it is not one."""
    try:
        doc = json.loads(answer.body.decode("utf-8", "replace") or "null")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
