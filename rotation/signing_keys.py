"""Asymmetric JWT signing keys (RS256, ES256, EdDSA): the private key in the store, its public JWK in the JWKS.

With an HS256 ``JWT_SECRET`` every verifier holds the signing key, so a
JWKS of ``oct`` keys is itself a secret. With an asymmetric key only the
signer holds the private key (the stored value); verifiers read a set of
*public* keys that may be served to anyone. The stored value is either

- a private JWK (``{"kty": "EC", "crv": "P-256", "d": …, "kid": …, "alg": "ES256"}``; what
  ``generate: {kind: keypair, alg: ES256}`` writes), or
- a PKCS#8 / traditional PEM private key (``generate: {kind: keypair, alg: …, format: pem}``).

A key's ``kid`` is the RFC 7638 thumbprint of its public key, unless a JWK
value names its own ``kid``: the signer and the rotation derive the same kid
from the key alone. Tokens are signed here with ``cryptography``'s primitives
(the proof's forged token); nothing in this module ever prints key material.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rotation import hs256
from rotation.errors import ConfigError, TargetError
from sanitize.secret import Secret

ALGS = ("RS256", "ES256", "EdDSA")
FORMATS = ("jwk", "pem")
RSA_BITS = 2048
#: Members of a JWK that are private key material (RFC 7518 §6): never published.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int) -> str:
    return hs256.b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _b64_int(text: str) -> int:
    return int.from_bytes(_b64d(text), "big")


def thumbprint(public: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of a public JWK (RSA, EC or OKP)."""
    members = _THUMBPRINT_MEMBERS[str(public["kty"])]
    canonical = json.dumps({m: public[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return hs256.b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_material(jwk: Mapping[str, Any]) -> tuple[str, ...] | None:
    """What identifies a public key regardless of its kid (None for an ``oct`` or unknown key)."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        return None
    return tuple(str(jwk[m]) for m in members)


@dataclass(frozen=True)
class SigningKey:
    """A parsed private key: its algorithm, its public JWK (with ``kid``), the library object to sign with."""

    alg: str
    public_jwk: dict[str, Any]
    private: Any

    @property
    def kid(self) -> str:
        """The kid tokens carry and the JWKS lists."""
        return str(self.public_jwk["kid"])

    def sign(self, data: bytes) -> bytes:
        """The JWS signature over ``data`` (ES256: raw r||s, as RFC 7518 §3.4 wants)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        if self.alg == "RS256":
            return bytes(self.private.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return bytes(self.private.sign(data))


def _alg_of(private: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(private, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise TargetError("signing key: only RSA, EC P-256 and Ed25519 private keys are supported")


def _public_jwk(private: Any, alg: str, kid: str | None = None) -> dict[str, Any]:
    pub = private.public_key()
    if alg == "RS256":
        numbers = pub.public_numbers()
        jwk: dict[str, Any] = {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
    elif alg == "ES256":
        numbers = pub.public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": hs256.b64url(numbers.x.to_bytes(32, "big")),
               "y": hs256.b64url(numbers.y.to_bytes(32, "big"))}
    else:
        from cryptography.hazmat.primitives import serialization

        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": hs256.b64url(raw)}
    return {**jwk, "kid": kid or thumbprint(jwk), "alg": alg, "use": "sig"}


def _from_jwk(doc: Mapping[str, Any]) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    kty = doc.get("kty")
    if kty == "RSA":
        n, e = _b64_int(doc["n"]), _b64_int(doc["e"])
        d, p, q = _b64_int(doc["d"]), _b64_int(doc["p"]), _b64_int(doc["q"])
        numbers = rsa.RSAPrivateNumbers(p=p, q=q, d=d, dmp1=_b64_int(doc["dp"]), dmq1=_b64_int(doc["dq"]),
                                        iqmp=_b64_int(doc["qi"]), public_numbers=rsa.RSAPublicNumbers(e=e, n=n))
        return numbers.private_key()
    if kty == "EC" and doc.get("crv") == "P-256":
        return ec.derive_private_key(_b64_int(doc["d"]), ec.SECP256R1())
    if kty == "OKP" and doc.get("crv") == "Ed25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(_b64d(doc["d"]))
    raise TargetError("signing key: the JWK is not an RSA, EC P-256 or Ed25519 private key")


def looks_asymmetric(value: Secret) -> bool:
    """Whether the stored value claims to be a private key (a PEM block or a JWK with a ``kty`` other than oct)."""
    text = value.reveal().lstrip()
    if text.startswith("-----BEGIN ") and "PRIVATE KEY-----" in text:
        return True
    if not text.startswith("{"):
        return False
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("kty") in _THUMBPRINT_MEMBERS


def load(value: Secret) -> SigningKey | None:
    """The private key ``value`` holds, or None if it is not one (an HS256 secret); TargetError if malformed."""
    if not looks_asymmetric(value):
        return None
    text = value.reveal().strip()
    try:
        if text.startswith("-----BEGIN "):
            from cryptography.hazmat.primitives import serialization

            private = serialization.load_pem_private_key(text.encode(), password=None)
            alg, kid = _alg_of(private), None
        else:
            doc = json.loads(text)
            private = _from_jwk(doc)
            alg, kid = _alg_of(private), doc.get("kid") if isinstance(doc.get("kid"), str) else None
            if doc.get("alg") not in (None, alg):
                raise TargetError(f"signing key: the JWK says alg {doc.get('alg')!r} but holds a {alg} key")
    except TargetError:
        raise
    except Exception as exc:  # noqa: BLE001 - cryptography's errors are safe, but a value must never be quoted
        raise TargetError(f"signing key: the stored private key does not parse ({type(exc).__name__})") from None
    return SigningKey(alg=alg, public_jwk=_public_jwk(private, alg, kid), private=private)


def serialize(private: Any, fmt: str = "jwk") -> Secret:
    """A private key object as the stored value: a private JWK (with kid and alg) or a PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization

    if fmt not in FORMATS:
        raise ConfigError(f"generate.format must be one of {', '.join(FORMATS)}")
    alg = _alg_of(private)
    if fmt == "pem":
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return Secret(pem.decode("ascii"))
    public = _public_jwk(private, alg)
    if alg == "RS256":
        nums = private.private_numbers()
        secret_members = {"d": _int_b64(nums.d), "p": _int_b64(nums.p), "q": _int_b64(nums.q),
                          "dp": _int_b64(nums.dmp1), "dq": _int_b64(nums.dmq1), "qi": _int_b64(nums.iqmp)}
    elif alg == "ES256":
        secret_members = {"d": hs256.b64url(private.private_numbers().private_value.to_bytes(32, "big"))}
    else:
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        secret_members = {"d": hs256.b64url(raw)}
    return Secret(json.dumps({**public, **secret_members}))


def new_private_key(alg: str, fmt: str = "jwk") -> Secret:
    """A fresh private key for ``alg`` (from the OS CSPRNG, via ``cryptography``), serialised as ``fmt``."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if alg not in ALGS:
        raise ConfigError(f"generate.alg must be one of {', '.join(ALGS)}")
    private: Any
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return serialize(private, fmt)


def sign_token(claims: Mapping[str, Any], key: Secret, *, with_kid: bool, lifetime: int = 300) -> Secret:
    """A JWT over ``claims`` signed with ``key``: its own alg for a private key (kid: the key's), else HS256."""
    signing = load(key)
    if signing is None:
        return hs256.sign(claims, key, kid=hs256.thumbprint(key) if with_kid else None, lifetime=lifetime)
    header: dict[str, Any] = {"alg": signing.alg, "typ": "JWT", **({"kid": signing.kid} if with_kid else {})}
    now = int(time.time())
    body = {"iat": now, "exp": now + lifetime, **claims}
    signing_input = ".".join(hs256.b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, body))
    return Secret(f"{signing_input}.{hs256.b64url(signing.sign(signing_input.encode('ascii')))}")
