"""The JSON secret of AWS's rotation templates and RDS: ``{engine, host, username, password, dbname, port}``.

Our targets speak DSNs, so :class:`RdsJsonBackend` shows such a secret to the
protocol as the DSN it describes (``postgresql://user:pw@host:port/dbname``)
and writes a new version back in the same JSON shape: the new ``password``
(and, for the alternating-users strategy, the new ``username``), every other
field (``masterarn``, ``dbClusterIdentifier``, custom keys) carried over.
A secret that is a URL DSN already passes through unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from rotation.backends.aws import CURRENT, AwsBackend
from rotation.backends.base import SecretRef
from rotation.errors import BackendError
from rotation.generate import dsn_password, dsn_user
from sanitize.secret import Secret


@dataclass(frozen=True)
class Engine:
    """How one ``engine`` value maps to a DSN scheme, a default port and our target type."""

    scheme: str
    port: int
    target: str


ENGINES: dict[str, Engine] = {
    "postgres": Engine("postgresql", 5432, "postgres"),
    "postgresql": Engine("postgresql", 5432, "postgres"),
    "aurora-postgresql": Engine("postgresql", 5432, "postgres"),
    "mysql": Engine("mysql", 3306, "mysql"),
    "mariadb": Engine("mysql", 3306, "mysql"),
    "aurora-mysql": Engine("mysql", 3306, "mysql"),
    "aurora": Engine("mysql", 3306, "mysql"),
    "redis": Engine("redis", 6379, "redis"),
}
_REQUIRED = ("engine", "host", "username", "password")


def parse(text: str) -> dict[str, Any] | None:
    """The secret as the template's JSON document, or None if it is not one (e.g. a URL DSN)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) and doc.get(k) for k in _REQUIRED):
        return None
    return doc


def engine_of(doc: dict[str, Any]) -> Engine:
    """The document's engine; BackendError naming the supported ones otherwise."""
    engine = ENGINES.get(str(doc.get("engine")).lower())
    if engine is None:
        raise BackendError(f"secret engine {doc.get('engine')!r} is not supported "
                           f"(expected one of {', '.join(sorted(ENGINES))})")
    return engine


def to_dsn(doc: dict[str, Any]) -> str:
    """``scheme://user:password@host:port/dbname`` (user and password percent-encoded)."""
    engine = engine_of(doc)
    port = doc.get("port") or engine.port
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise BackendError("secret field 'port' is not a number") from None
    userinfo = f"{quote(doc['username'], safe='')}:{quote(doc['password'], safe='')}"
    dbname = doc.get("dbname")
    path = f"/{quote(str(dbname), safe='')}" if dbname else ("/postgres" if engine.target == "postgres" else "")
    return f"{engine.scheme}://{userinfo}@{doc['host']}:{port}{path}"


def with_login(doc: dict[str, Any], dsn: Secret) -> dict[str, Any]:
    """``doc`` with the username and password of ``dsn``; every other field as it was."""
    user, password = dsn_user(dsn.reveal()), dsn_password(dsn.reveal())
    if not user or password is None:
        raise BackendError("the new value is not a DSN with a user and a password")
    return {**doc, "username": user, "password": password}


class RdsJsonBackend(AwsBackend):
    """Secrets Manager, where a secret in the template's JSON shape reads and writes as a DSN."""

    def _extract(self, ref: SecretRef, secret_string: str | None) -> str:
        if secret_string is not None and not ref.key:
            doc = parse(secret_string)
            if doc is not None:
                return to_dsn(doc)
        return super()._extract(ref, secret_string)

    def _compose(self, ref: SecretRef, value: Secret) -> str:
        if not ref.key:
            current = self._get(ref, VersionStage=CURRENT)
            doc = parse(str((current or {}).get("SecretString") or ""))
            if doc is not None:
                return json.dumps(with_login(doc, value))
        return super()._compose(ref, value)

    def document(self, ref: SecretRef, **selector: str) -> dict[str, Any] | None:
        """The JSON document of one version (``VersionStage=``/``VersionId=``), or None if not that shape."""
        resp = self._get(ref, **selector)
        if resp is None or resp.get("SecretString") is None:
            return None
        return parse(str(resp["SecretString"]))
