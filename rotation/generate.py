"""New secret values, from the OS CSPRNG (``secrets``), and DSN password surgery.

A DSN (URL or libpq keyword form) keeps everything but its password: user,
host, port, database and query parameters survive a rotation unchanged, so consumers need nothing
but the new value. DSN passwords are drawn from URL-unreserved characters
(and percent-encoded anyway) so no driver mis-parses them.
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from rotation.errors import ConfigError
from sanitize.secret import Secret

# Punctuation that survives shells, YAML, .env files and most password policies.
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!#%+-.:=?@^_~"
# RFC 3986 unreserved characters: need no escaping anywhere in a URL.
URL_SAFE_ALPHABET = string.ascii_letters + string.digits + "-._~"

KINDS = ("hex", "base64", "base64url", "password", "alphanumeric", "keypair")


@dataclass(frozen=True)
class GenerateSpec:
    """How to make a new value: ``kind`` plus ``bytes`` (hex/base64) or ``length``/``alphabet``.

    ``keypair``: an asymmetric JWT signing key, ``alg`` RS256, ES256 or EdDSA, written as a
    private JWK (``format: jwk``, the default) or a PKCS#8 PEM (:mod:`rotation.signing_keys`).
    """

    kind: str = "password"
    bytes: int = 32
    length: int = 32
    alphabet: str | None = None
    alg: str | None = None
    format: str = "jwk"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"generate.kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if not 8 <= self.bytes <= 1024:
            raise ConfigError("generate.bytes must be between 8 and 1024")
        if not 8 <= self.length <= 1024:
            raise ConfigError("generate.length must be between 8 and 1024")
        if self.alphabet is not None and len(set(self.alphabet)) < 10:
            raise ConfigError("generate.alphabet must have at least 10 distinct characters")
        from rotation.signing_keys import ALGS, FORMATS

        if self.kind == "keypair" and self.alg not in ALGS:
            raise ConfigError(f"generate.alg must be one of {', '.join(ALGS)} for kind keypair")
        if self.kind != "keypair" and self.alg is not None:
            raise ConfigError("generate.alg applies to kind keypair only")
        if self.format not in FORMATS:
            raise ConfigError(f"generate.format must be one of {', '.join(FORMATS)}")


def random_string(length: int, alphabet: str) -> str:
    """``length`` characters drawn uniformly from ``alphabet`` with the CSPRNG."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_raw(spec: GenerateSpec, *, url_safe: bool = False) -> str:
    """A fresh value of the requested kind; ``url_safe`` for the password inside a DSN."""
    if spec.kind == "keypair":
        from rotation.signing_keys import new_private_key

        return new_private_key(str(spec.alg), spec.format).reveal()
    if spec.kind == "hex":
        return secrets.token_hex(spec.bytes)
    if spec.kind == "base64":
        raw = secrets.token_bytes(spec.bytes)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=") if url_safe else base64.b64encode(raw).decode()
    if spec.kind == "base64url":
        return base64.urlsafe_b64encode(secrets.token_bytes(spec.bytes)).decode().rstrip("=")
    if spec.kind == "alphanumeric":
        return random_string(spec.length, spec.alphabet or string.ascii_letters + string.digits)
    alphabet = spec.alphabet or (URL_SAFE_ALPHABET if url_safe else PASSWORD_ALPHABET)
    return random_string(spec.length, alphabet)


def _is_url_dsn(value: str) -> bool:
    try:
        parts = urlsplit(value)
        return bool(parts.scheme) and "@" in parts.netloc and parts.password is not None
    except ValueError:
        return False


def _keywords(value: str) -> dict[str, str] | None:
    """A libpq keyword/value DSN (``host=… user=… password=…``) as a dict, or None."""
    if "=" not in value or "password" not in value or "://" in value:
        return None
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(value)
    except Exception:  # noqa: BLE001 - psycopg raises ProgrammingError; anything else also means "not a DSN"
        return None
    if "password" not in params or "user" not in params:
        return None
    return {k: str(v) for k, v in params.items()}


def is_dsn(value: str) -> bool:
    """True for a DSN with a user and a password: ``scheme://user:pw@host/...`` or libpq ``user=… password=…``."""
    return _is_url_dsn(value) or _keywords(value) is not None


def dsn_password(value: str) -> str | None:
    """The decoded password of a DSN, or None if ``value`` is not one."""
    if _is_url_dsn(value):
        return unquote(urlsplit(value).password or "")
    params = _keywords(value)
    return params["password"] if params else None


def dsn_user(value: str) -> str | None:
    """The decoded user name of a DSN, or None."""
    if _is_url_dsn(value):
        user = urlsplit(value).username
        return unquote(user) if user else None
    params = _keywords(value)
    return params["user"] if params else None


def with_password(dsn: str, password: str) -> str:
    """``dsn`` with its password replaced; every other parameter kept.

    URL form: percent-encoded, the rest byte-identical. Keyword form: libpq quoting
    (psycopg's ``make_conninfo``), the other parameters unchanged.
    """
    if not _is_url_dsn(dsn):
        from psycopg.conninfo import make_conninfo

        return make_conninfo(dsn, password=password)
    parts = urlsplit(dsn)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:{quote(password, safe='')}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def driver_dsn(dsn: str) -> str:
    """``dsn`` as a strict driver (libpq) parses it: a URL's user and password re-encoded.

    A stored DSN may hold a password nobody percent-encoded (``50%off``); we
    read it leniently (:func:`dsn_password`), libpq refuses it with an error
    that quotes the password. Re-encoding the decoded user and password gives
    libpq the same login, whatever the password holds. Keyword DSNs pass unchanged.
    """
    if not _is_url_dsn(dsn):
        return dsn
    parts = urlsplit(dsn)
    _, _, hostport = parts.netloc.rpartition("@")
    user = quote(unquote(parts.username or ""), safe="")
    netloc = f"{user}:{quote(unquote(parts.password or ''), safe='')}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def exposure_hash(value: Secret) -> str:
    """What a scan's ``secret_sha256`` would be for this stored value (a DSN: its password)."""
    pw = dsn_password(value.reveal())
    return Secret(pw).sha256 if pw is not None else value.sha256


def exposure_hashes(value: Secret) -> set[str]:
    """Every ``secret_sha256`` a scan could report for this stored value: the whole value, a DSN's
    password, and each string member of a JSON object (an AWS key pair stored as one JSON value: the scan
    reports its access key id and its secret key apart)."""
    hashes = {value.sha256, exposure_hash(value)}
    text = value.reveal().strip()
    if text.startswith("{"):
        import json

        try:
            doc = json.loads(text)
        except ValueError:
            return hashes
        if isinstance(doc, dict):
            hashes |= {Secret(v).sha256 for v in doc.values() if isinstance(v, str) and v}
    return hashes


def generate(spec: GenerateSpec, current: Secret | None = None) -> Secret:
    """A new value for a secret whose current value is ``current``.

    If the current value is a DSN only its password changes. The new value
    always differs from the current one.
    """
    cur = current.reveal() if current is not None else None
    for _ in range(10):
        if cur is not None and spec.kind != "keypair" and is_dsn(cur):
            new = with_password(cur, new_raw(spec, url_safe=True))
        else:
            new = new_raw(spec)
        if new != cur:
            return Secret(new)
    raise ConfigError("generate: could not produce a value different from the current one")  # pragma: no cover
