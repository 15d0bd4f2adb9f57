"""A stand-in on 127.0.0.1 for the provider endpoints ``rotate --revoke`` calls (GitHub, GitLab, Slack).

These are third-party SaaS APIs that cannot run here, so this is a boundary fake, kept to their documented
behaviour and nothing more:

- GitHub ``POST /credentials/revoke`` takes ``{"credentials": [1..1000 strings]}`` without authentication
  and answers ``202``; a malformed body gets ``422`` and an authenticated request ``403`` (GitHub.com).
  ``GET /user`` with ``Authorization: Bearer`` answers ``200`` for a live token, ``401 Bad credentials``
  otherwise. GitHub queues revocations: ``queue`` keeps them pending until ``process_queue()``.
- Slack ``auth.revoke`` and ``auth.test`` read the token from ``Authorization: Bearer`` (or a ``token``
  form field) and always answer HTTP 200: ``{"ok": true, "revoked": true}``, ``{"ok": true, ...identity}``
  or ``{"ok": false, "error": "invalid_auth"}``.
- GitLab ``DELETE``/``GET /api/v4/personal_access_tokens/self`` read ``PRIVATE-TOKEN``: ``204`` (revoked),
  ``200`` (the token's details), ``401 {"message": "401 Unauthorized"}`` for an unknown or revoked token.

Knobs for the failure cases: ``refuse`` (GitHub 422, Slack ``revoked: false``, GitLab 400), ``ignore``
(the call is accepted but the token keeps working), ``echo`` (an error body repeats the submitted token, to
test that it is redacted before it is kept). ``requests`` records each call without any token value.
Base URLs: ``url("github")`` etc. (one server, a path prefix per provider). Started and stopped by the
fixture, in a thread of the test process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest


@dataclass
class ProviderApis:
    """The fake's state: live and revoked tokens per provider, the knobs, and the calls it answered."""

    port: int = 0
    live: dict[str, set[str]] = field(default_factory=lambda: {"github": set(), "gitlab": set(), "slack": set()})
    revoked: dict[str, set[str]] = field(default_factory=lambda: {"github": set(), "gitlab": set(), "slack": set()})
    refuse: set[str] = field(default_factory=set)
    ignore: set[str] = field(default_factory=set)
    echo: bool = False
    queue: bool = False
    pending: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, provider: str) -> str:
        """The base URL for ``provider`` (what ``revocation.<provider>.api_url`` would name)."""
        return f"http://127.0.0.1:{self.port}/{provider}"

    def env(self) -> dict[str, str]:
        """The environment variables that point ``rotate --revoke`` here."""
        return {f"GIT_SANITIZE_{p.upper()}_API": self.url(p) for p in self.live}

    def issue(self, provider: str, token: str) -> None:
        """Make ``token`` a working credential at ``provider``."""
        self.live[provider].add(token)

    def works(self, provider: str, token: str) -> bool:
        """Whether the provider still accepts ``token``."""
        return token in self.live[provider]

    def process_queue(self) -> None:
        """GitHub works through its revocation queue."""
        with self.lock:
            for token in self.pending:
                self.live["github"].discard(token)
                self.revoked["github"].add(token)
            self.pending.clear()

    def kill(self, provider: str, token: str) -> None:
        with self.lock:
            if provider not in self.ignore and token in self.live[provider]:
                self.live[provider].discard(token)
                self.revoked[provider].add(token)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # the path is all it would print, but keep test output clean

    def _reply(self, status: int, doc: object | None = None) -> None:
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _bearer(self) -> str:
        auth = self.headers.get("Authorization") or ""
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else ""

    def _route(self, method: str) -> None:
        api = self.server.api
        provider, _, rest = self.path.lstrip("/").partition("/")
        api.requests.append({"provider": provider, "method": method, "path": "/" + rest,
                             "authorization": bool(self.headers.get("Authorization")),
                             "private_token": bool(self.headers.get("PRIVATE-TOKEN"))})
        handler = getattr(self, f"_{provider}", None)
        if handler is None:
            self._reply(404, {"message": "Not Found"})
            return
        handler(api, method, "/" + rest)

    do_GET = lambda self: self._route("GET")  # noqa: E731
    do_POST = lambda self: self._route("POST")  # noqa: E731
    do_DELETE = lambda self: self._route("DELETE")  # noqa: E731

    def _github(self, api: ProviderApis, method: str, path: str) -> None:
        if method == "POST" and path == "/credentials/revoke":
            raw = self._body()
            if self.headers.get("Authorization"):
                self._reply(403, {"message": "Must not be authenticated", "status": "403"})
                return
            try:
                creds = json.loads(raw)["credentials"]
                assert isinstance(creds, list) and 1 <= len(creds) <= 1000
                assert all(isinstance(c, str) for c in creds)
            except (ValueError, KeyError, TypeError, AssertionError):
                self._reply(422, {"message": "Validation Failed", "status": "422"})
                return
            if "github" in api.refuse:
                errors = [{"resource": "credentials", "code": "invalid", "value": c} for c in creds] if api.echo \
                    else []
                self._reply(422, {"message": "Validation Failed", "errors": errors, "status": "422"})
                return
            for token in creds:
                if api.queue:
                    api.pending.append(token)
                else:
                    api.kill("github", token)
            self._reply(202, {})
        elif method == "GET" and path == "/user":
            if api.works("github", self._bearer()):
                self._reply(200, {"login": "octo-fake", "id": 1, "type": "User"})
            else:
                self._reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                  "status": "401"})
        else:
            self._reply(404, {"message": "Not Found"})

    def _slack(self, api: ProviderApis, method: str, path: str) -> None:
        raw = self._body()
        token = self._bearer() or (parse_qs(raw.decode()).get("token") or [""])[0]
        if method not in ("GET", "POST") or path not in ("/auth.revoke", "/auth.test"):
            self._reply(404, {"ok": False, "error": "unknown_method"})
            return
        if not token:
            self._reply(200, {"ok": False, "error": "not_authed"})
        elif token in api.revoked["slack"]:
            self._reply(200, {"ok": False, "error": "token_revoked"})
        elif not api.works("slack", token):
            self._reply(200, {"ok": False, "error": "invalid_auth"})
        elif path == "/auth.test":
            self._reply(200, {"ok": True, "url": "https://fake.slack.test/", "team": "Fake", "user": "bot",
                              "team_id": "T0", "user_id": "U0"})
        elif "slack" in api.refuse:
            self._reply(200, {"ok": True, "revoked": False})
        else:
            api.kill("slack", token)
            self._reply(200, {"ok": True, "revoked": True})

    def _gitlab(self, api: ProviderApis, method: str, path: str) -> None:
        if path != "/api/v4/personal_access_tokens/self" or method not in ("GET", "DELETE"):
            self._reply(404, {"message": "404 Not Found"})
            return
        token = self.headers.get("PRIVATE-TOKEN") or ""
        if not api.works("gitlab", token):
            self._reply(401, {"message": "401 Unauthorized"})
        elif method == "GET":
            self._reply(200, {"id": 4, "name": "ci", "revoked": False, "active": True, "scopes": ["api"],
                              "user_id": 24, "expires_at": None})
        elif "gitlab" in api.refuse:
            self._reply(400, {"message": "400 Bad request - " + (token if api.echo else "not revoked")})
        else:
            api.kill("gitlab", token)
            self._reply(204)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: ProviderApis) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


@pytest.fixture
def provider_apis() -> Iterator[ProviderApis]:
    """The fake GitHub/GitLab/Slack APIs on 127.0.0.1 (a thread of this process, stopped afterwards)."""
    api = ProviderApis()
    server = _Server(api)
    api.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="provider-apis", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
