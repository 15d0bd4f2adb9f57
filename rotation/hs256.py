"""HS256 signing keys as JWTs and JWKs: what a proof forges, what the ``jwks`` target publishes.

A ``JWT_SECRET`` is used the way apps use it (``jwt.sign(payload,
process.env.JWT_SECRET)``): its UTF-8 bytes are the HMAC key. As a JWK it is
``{"kty": "oct", "k": base64url(key)}`` and its ``kid`` is the RFC 7638
thumbprint, so an app can compute the kid of the key it signs with from the
key alone, and a leaked key's kid is known to whoever holds the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from sanitize.secret import Secret


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def key_bytes(key: Secret) -> bytes:
    """The HMAC key a JWT_SECRET stands for: its UTF-8 bytes."""
    return key.reveal().encode("utf-8", "surrogateescape")


def thumbprint(key: Secret) -> str:
    """RFC 7638 JWK thumbprint of the oct key: its ``kid``."""
    canonical = json.dumps({"k": b64url(key_bytes(key)), "kty": "oct"}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def jwk(key: Secret, **extra: Any) -> dict[str, Any]:
    """The key as a JWK (``kty`` oct, ``alg`` HS256, ``use`` sig, ``kid`` its thumbprint) plus ``extra`` members."""
    return {"kty": "oct", "kid": thumbprint(key), "alg": "HS256", "use": "sig", "k": b64url(key_bytes(key)),
            **extra}


def sign(claims: Mapping[str, Any], key: Secret, *, kid: str | None = None, lifetime: int = 300) -> Secret:
    """An HS256 JWT over ``claims`` (plus ``iat``/``exp`` unless given), optionally with a ``kid`` header."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    now = int(time.time())
    body = {"iat": now, "exp": now + lifetime, **claims}
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, body))
    mac = hmac.new(key_bytes(key), signing_input.encode("ascii"), hashlib.sha256).digest()
    return Secret(f"{signing_input}.{b64url(mac)}")
