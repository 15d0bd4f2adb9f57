"""A small app like the one the incident was about, run by the tests as a real process.

At start (and on SIGHUP or ``POST /reload``) it reads its signing key from
OpenBao KV v2 (``VAULT_ADDR``, ``VAULT_TOKEN``, ``APP_KV_PATH``): ``JWT_SECRET``
(HS256) or ``JWT_PRIVATE_KEY`` (an RS256/ES256/EdDSA private key, as a private
JWK or a PEM), and, with ``JWKS_FILE`` (or ``JWKS_KV_PATH``: key ``JWKS`` of
that KV secret), the key set it verifies tokens against (``oct`` keys and
public RSA/EC/OKP keys). It keeps what it read in memory, as real apps do: a
rotated key means nothing to it until it reloads. The admin login is checked
on every request against the hash in its own table (``APP_DB_DSN``): on
PostgreSQL a bcrypt hash with pgcrypto's ``crypt``, an argon2 hash with
argon2-cffi; on MariaDB/MySQL (a ``mysql://`` DSN, PyMySQL) the app verifies the
hash it reads itself (bcrypt or argon2).

- ``GET /me`` with ``Authorization: Bearer <JWT>``: 200 if the signature
  verifies (JWKS mode: the key named by the token's ``kid``, whose ``alg`` the
  token must carry), else 401;
- ``GET /admin`` with basic auth ``admin:<password>``: 200 or 401;
- ``POST /login`` with the same basic auth: a token signed with the current key;
- ``POST /reload``: re-read the store (a webhook consumer); ``GET /health``.

It writes its port to the file named by argv[1] once it listens on 127.0.0.1.
The token verification is written out by hand here (on ``cryptography``'s
primitives) on purpose: the app must not share code with the rotation it is
used to check.
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
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import argon2
import bcrypt
import psycopg
import pymysql
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

STATE: dict[str, object] = {"key": b"", "signer": None, "keys": {}, "loads": 0}
LOCK = threading.Lock()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def num(text: str) -> int:
    return int.from_bytes(b64d(text), "big")


def kv_read(path: str) -> dict[str, str]:
    req = urllib.request.Request(f"{os.environ['VAULT_ADDR']}/v1/secret/data/{path}",
                                 headers={"X-Vault-Token": os.environ["VAULT_TOKEN"]})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)["data"]["data"]  # type: ignore[no-any-return]


THUMB = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}


def kid_of_jwk(jwk: dict[str, str]) -> str:
    canonical = json.dumps({m: jwk[m] for m in THUMB[jwk["kty"]]}, separators=(",", ":"), sort_keys=True)
    return b64e(hashlib.sha256(canonical.encode()).digest())


def public_key(jwk: dict[str, str]) -> tuple[str, object] | None:
    """(alg, verifier key) for a JWK of the set; None for a key this app does not use."""
    kty = jwk.get("kty")
    if kty == "oct":
        return "HS256", b64d(jwk["k"])
    if kty == "RSA":
        return "RS256", rsa.RSAPublicNumbers(num(jwk["e"]), num(jwk["n"])).public_key()
    if kty == "EC" and jwk.get("crv") == "P-256":
        return "ES256", ec.EllipticCurvePublicNumbers(num(jwk["x"]), num(jwk["y"]), ec.SECP256R1()).public_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        return "EdDSA", ed25519.Ed25519PublicKey.from_public_bytes(b64d(jwk["x"]))
    return None


def private_key(text: str) -> tuple[str, str, object]:
    """(alg, kid, key) of the app's asymmetric signing key: a private JWK or a PEM."""
    if text.lstrip().startswith("{"):
        jwk = json.loads(text)
        if jwk["kty"] == "RSA":
            pub = rsa.RSAPublicNumbers(num(jwk["e"]), num(jwk["n"]))
            key: object = rsa.RSAPrivateNumbers(num(jwk["p"]), num(jwk["q"]), num(jwk["d"]), num(jwk["dp"]),
                                                num(jwk["dq"]), num(jwk["qi"]), pub).private_key()
        elif jwk["kty"] == "EC":
            key = ec.derive_private_key(num(jwk["d"]), ec.SECP256R1())
        else:
            key = ed25519.Ed25519PrivateKey.from_private_bytes(b64d(jwk["d"]))
    else:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    pub_key = key.public_key()  # type: ignore[attr-defined]
    if isinstance(key, rsa.RSAPrivateKey):
        n = pub_key.public_numbers()
        jwk_pub = {"kty": "RSA", "n": b64e(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                   "e": b64e(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}
        alg = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        n = pub_key.public_numbers()
        jwk_pub = {"kty": "EC", "crv": "P-256", "x": b64e(n.x.to_bytes(32, "big")), "y": b64e(n.y.to_bytes(32, "big"))}
        alg = "ES256"
    else:
        raw = pub_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk_pub = {"kty": "OKP", "crv": "Ed25519", "x": b64e(raw)}
        alg = "EdDSA"
    kid = json.loads(text).get("kid") if text.lstrip().startswith("{") else None
    return alg, kid or kid_of_jwk(jwk_pub), key


def load() -> None:
    data = kv_read(os.environ["APP_KV_PATH"])
    keys: dict[str, tuple[str, object]] = {}
    doc = None
    if os.environ.get("JWKS_FILE"):
        with open(os.environ["JWKS_FILE"], encoding="utf-8") as fh:
            doc = json.load(fh)
    elif os.environ.get("JWKS_KV_PATH"):  # the key set as one value in the store: {"keys": [...]}
        doc = json.loads(kv_read(os.environ["JWKS_KV_PATH"])["JWKS"])
    if doc is not None:
        for jwk in doc["keys"]:
            found = public_key(jwk)
            if found is not None and "kid" in jwk and jwk.get("alg", found[0]) == found[0]:
                keys[jwk["kid"]] = found
    signer = private_key(data["JWT_PRIVATE_KEY"]) if data.get("JWT_PRIVATE_KEY") else None
    with LOCK:
        STATE["key"] = data.get("JWT_SECRET", "").encode()
        STATE["signer"] = signer
        STATE["keys"] = keys
        STATE["loads"] = int(STATE["loads"]) + 1  # type: ignore[call-overload]


def kid_of(key: bytes) -> str:
    return kid_of_jwk({"k": b64e(key), "kty": "oct"})


def sign(alg: str, key: object, data: bytes) -> bytes:
    if alg == "HS256":
        assert isinstance(key, bytes)
        return hmac.new(key, data, hashlib.sha256).digest()
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined,no-any-return]
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))  # type: ignore[attr-defined]
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # type: ignore[no-any-return]
    return key.sign(data)  # type: ignore[attr-defined,no-any-return]


def signature_ok(alg: str, key: object, data: bytes, sig: bytes) -> bool:
    try:
        if alg == "HS256":
            assert isinstance(key, bytes)
            return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), sig)
        if alg == "RS256":
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
        elif alg == "ES256":
            if len(sig) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]
        else:
            key.verify(sig, data)  # type: ignore[attr-defined]
    except InvalidSignature:
        return False
    return True


def issue(sub: str) -> str:
    with LOCK:
        key = STATE["key"]
        signer = STATE["signer"]
        jwks = bool(STATE["keys"])
    if signer is not None:
        alg, kid, private = signer  # type: ignore[misc]
        header = {"alg": alg, "typ": "JWT", "kid": kid}
    else:
        assert isinstance(key, bytes)
        alg, private = "HS256", key
        header = {"alg": "HS256", "typ": "JWT", **({"kid": kid_of(key)} if jwks else {})}
    body = {"sub": sub, "iat": int(time.time()), "exp": int(time.time()) + 300}
    signing = ".".join(b64e(json.dumps(p, separators=(",", ":")).encode()) for p in (header, body))
    return signing + "." + b64e(sign(alg, private, signing.encode()))


def verify(token: str) -> dict[str, object] | None:
    try:
        head, body, sig = token.split(".")
        header = json.loads(b64d(head))
        claims = json.loads(b64d(body))
        signature = b64d(sig)
    except ValueError:
        return None
    with LOCK:
        if STATE["keys"]:
            found = STATE["keys"].get(header.get("kid"))  # type: ignore[union-attr]
        else:
            found = ("HS256", STATE["key"]) if STATE["key"] else None
    if found is None or header.get("alg") != found[0]:  # the key decides the algorithm, not the token
        return None
    if not signature_ok(found[0], found[1], f"{head}.{body}".encode(), signature):
        return None
    if claims.get("exp", 0) < time.time():
        return None
    return claims


def hash_ok(stored: str, password: str) -> bool:
    """The app's own check of a hash it read (argon2 or bcrypt)."""
    if stored.startswith("$argon2"):
        try:
            return argon2.PasswordHasher().verify(stored, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        return bcrypt.checkpw(password.encode(), stored.encode())
    return False


def admin_ok(header: str) -> bool:
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    dsn = os.environ["APP_DB_DSN"]
    if dsn.startswith("mysql://"):
        p = urllib.parse.urlsplit(dsn)
        conn = pymysql.connect(host=p.hostname, port=p.port or 3306, user=urllib.parse.unquote(p.username or ""),
                               password=urllib.parse.unquote(p.password or ""), database=p.path.lstrip("/"),
                               connect_timeout=5)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT password_hash FROM app_users WHERE username = %s", (user,))
            row = cur.fetchone()
        return bool(row) and hash_ok(row[0], password)
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        found = conn.execute("SELECT password_hash FROM app_users WHERE username = %s", (user,)).fetchone()
        if found and found[0].startswith("$argon2"):
            return hash_ok(found[0], password)
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
