"""A small app like the one the incident was about, run by the tests as a real process (stdlib only + psycopg).

At start (and on SIGHUP or ``POST /reload``) it reads JWT_SECRET from OpenBao
KV v2 (``VAULT_ADDR``, ``VAULT_TOKEN``, ``APP_KV_PATH``) and, with
``JWKS_FILE`` (or ``JWKS_KV_PATH``: key ``JWKS`` of that KV secret), the key
set it verifies tokens against. It keeps what it read
in memory, as real apps do: a rotated key means nothing to it until it
reloads. The admin login is checked against the bcrypt hash in its own
PostgreSQL table (``APP_DB_DSN``) with pgcrypto's ``crypt``, on every request.

- ``GET /me`` with ``Authorization: Bearer <HS256 JWT>``: 200 if the signature
  verifies (JWKS mode: the key named by the token's ``kid``), else 401;
- ``GET /admin`` with basic auth ``admin:<password>``: 200 or 401;
- ``POST /login`` with the same basic auth: a token signed with the current key;
- ``POST /reload``: re-read the store (a webhook consumer); ``GET /health``.

It writes its port to the file named by argv[1] once it listens on 127.0.0.1.
The token verification is written out by hand here on purpose: the app must
not share code with the rotation it is used to check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

STATE: dict[str, object] = {"key": b"", "keys": {}, "loads": 0}
LOCK = threading.Lock()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def load() -> None:
    url = f"{os.environ['VAULT_ADDR']}/v1/secret/data/{os.environ['APP_KV_PATH']}"
    req = urllib.request.Request(url, headers={"X-Vault-Token": os.environ["VAULT_TOKEN"]})
    with urllib.request.urlopen(req, timeout=5) as resp:
        data = json.load(resp)["data"]["data"]
    keys: dict[str, bytes] = {}
    doc = None
    if os.environ.get("JWKS_FILE"):
        with open(os.environ["JWKS_FILE"], encoding="utf-8") as fh:
            doc = json.load(fh)
    elif os.environ.get("JWKS_KV_PATH"):  # the key set as one value in the store: {"keys": [...]}
        req = urllib.request.Request(f"{os.environ['VAULT_ADDR']}/v1/secret/data/{os.environ['JWKS_KV_PATH']}",
                                     headers={"X-Vault-Token": os.environ["VAULT_TOKEN"]})
        with urllib.request.urlopen(req, timeout=5) as resp:
            doc = json.loads(json.load(resp)["data"]["data"]["JWKS"])
    if doc is not None:
        keys = {k["kid"]: b64d(k["k"]) for k in doc["keys"] if k.get("kty") == "oct"}
    with LOCK:
        STATE["key"] = data["JWT_SECRET"].encode()
        STATE["keys"] = keys
        STATE["loads"] = int(STATE["loads"]) + 1  # type: ignore[call-overload]


def kid_of(key: bytes) -> str:
    canonical = json.dumps({"k": b64e(key), "kty": "oct"}, separators=(",", ":"), sort_keys=True)
    return b64e(hashlib.sha256(canonical.encode()).digest())


def issue(sub: str) -> str:
    with LOCK:
        key = STATE["key"]
        jwks = bool(STATE["keys"])
    assert isinstance(key, bytes)
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid_of(key)} if jwks else {})}
    body = {"sub": sub, "iat": int(time.time()), "exp": int(time.time()) + 300}
    signing = ".".join(b64e(json.dumps(p, separators=(",", ":")).encode()) for p in (header, body))
    return signing + "." + b64e(hmac.new(key, signing.encode(), hashlib.sha256).digest())


def verify(token: str) -> dict[str, object] | None:
    try:
        head, body, sig = token.split(".")
        header = json.loads(b64d(head))
        claims = json.loads(b64d(body))
    except ValueError:
        return None
    if header.get("alg") != "HS256":
        return None
    with LOCK:
        if STATE["keys"]:
            key = STATE["keys"].get(header.get("kid"))  # type: ignore[union-attr]
        else:
            key = STATE["key"]
    if not isinstance(key, bytes):
        return None
    expected = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64d(sig)) or claims.get("exp", 0) < time.time():
        return None
    return claims


def admin_ok(header: str) -> bool:
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    with psycopg.connect(os.environ["APP_DB_DSN"], connect_timeout=5) as conn:
        row = conn.execute("SELECT crypt(%s, password_hash) = password_hash FROM app_users WHERE username = %s",
                           (password, user)).fetchone()
    return bool(row and row[0])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        if self.path == "/health":
            self.reply(200, {"ok": True, "loads": STATE["loads"]})
        elif self.path == "/me":
            claims = verify(auth[7:]) if auth.startswith("Bearer ") else None
            self.reply(200, {"sub": claims.get("sub")}) if claims else self.reply(401, {"error": "bad token"})
        elif self.path == "/admin":
            self.reply(200, {"admin": True}) if admin_ok(auth) else self.reply(401, {"error": "bad login"})
        else:
            self.reply(404, {"error": "no such page"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reload":
            load()
            self.reply(200, {"reloaded": True, "loads": STATE["loads"]})
        elif self.path == "/login":
            if admin_ok(self.headers.get("Authorization", "")):
                self.reply(200, {"token": issue("admin")})
            else:
                self.reply(401, {"error": "bad login"})
        else:
            self.reply(404, {"error": "no such page"})


def main() -> None:
    load()
    signal.signal(signal.SIGHUP, lambda *_: load())
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(server.server_address[1]))
    os.replace(tmp, sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
