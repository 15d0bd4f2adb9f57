"""An HS256 signing key (``JWT_SECRET``) published with a ``kid`` in a JWKS that verifiers read.

An app that verifies tokens against a single key must restart to accept a
new one, and then refuses every token signed before — so teams either
never rotate or rotate with an outage. With a key set, rotation is:

- **scheduled**: the new key is added to the JWKS *before* the store makes it
  the signing key (``apply``), so every verifier that reloads already knows
  it when the first token signed with it arrives; the old key stays in the set
  with ``retire_at`` = now + ``grace`` (tokens it signed keep working), and a
  later run removes it (``housekeep``, also on ``--due`` runs where nothing is due);
- **compromised**: the same, but right after promotion (``promoted``) the old
  key leaves the set at once, and the proof is that the set no longer holds it
  (by kid and by key material). Add a ``proofs:`` check (``auth: jwt, kid:
  thumbprint``) to prove the app itself refuses a token forged with it.

Each key's ``kid`` is its RFC 7638 thumbprint (:mod:`rotation.hs256`), so the
signer derives the kid of the key it holds. The set holds secret key material
(``oct`` keys): the file is written 0600 through a temporary in the same
directory and renamed, never left half-written.

```yaml
target: {type: jwks, file: /etc/aurora/jwks.json, grace: 24h}
```
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rotation import hs256
from rotation.errors import ConfigError, TargetError
from rotation.schedule import parse_max_age
from rotation.targets import TargetContext
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret

_KEYS = {"type", "file", "grace"}
RETIRE_AT = "retire_at"  # a private JWK member (RFC 7517 §4: members not understood are ignored)


def _now() -> datetime:
    return datetime.now(UTC)


class JwksFile:
    """A JWKS document on disk: read whole, written whole (0600, temporary + rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        """The keys; an absent file is an empty set."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TargetError(f"jwks: cannot read {self.path} ({type(exc).__name__})") from None
        try:
            doc = json.loads(text)
        except ValueError:
            raise TargetError(f"jwks: {self.path} is not JSON") from None
        keys = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise TargetError(f"jwks: {self.path} is not a JWKS document ({{\"keys\": [...]}})")
        return keys

    def write(self, keys: list[dict[str, Any]]) -> None:
        """Replace the document atomically."""
        data = json.dumps({"keys": keys}, indent=2).encode()
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TargetError(f"jwks: cannot write {self.path} ({type(exc).__name__})") from None


def _holds(key: dict[str, Any], value: Secret) -> bool:
    """Whether a JWK is ``value`` (by kid or by key material)."""
    return key.get("kid") == hs256.thumbprint(value) or key.get("k") == hs256.b64url(hs256.key_bytes(value))


def _retired(key: dict[str, Any], now: datetime) -> bool:
    stamp = key.get(RETIRE_AT)
    if not isinstance(stamp, str):
        return False
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return False
    return (when if when.tzinfo else when.replace(tzinfo=UTC)) <= now


class JwksTarget(Target):
    """Publishes the signing key in a JWKS before use; retires the old one after ``grace`` (or at once)."""

    kind = "jwks"

    def __init__(self, store: JwksFile, *, grace: timedelta = timedelta(hours=24)) -> None:
        self.store = store
        self.grace = grace
        self._before: list[dict[str, Any]] | None = None

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> JwksTarget:
        """``{type: jwks, file: PATH[, grace: 24h]}``; the file's directory must exist."""
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        file = spec.get("file")
        if not isinstance(file, str) or not file:
            raise ConfigError("missing required key 'file' (the JWKS document verifiers read)")
        path = Path(file)
        if not path.parent.is_dir():
            raise ConfigError(f"'file': directory {path.parent} does not exist")
        try:
            grace = parse_max_age(spec.get("grace", "24h"))
        except ConfigError as exc:
            raise ConfigError(f"'grace': {exc}") from None
        return cls(JwksFile(path), grace=grace)

    def apply(self, old: Secret, new: Secret) -> None:
        """Publish ``new`` first in the set; keep ``old`` until now + grace; drop keys whose grace ended."""
        now = _now()
        keys = self.store.read()
        self._before = keys
        kept = [k for k in keys if not _retired(k, now) and not _holds(k, new) and not _holds(k, old)]
        old_key = next((k for k in keys if _holds(k, old)), None) or hs256.jwk(old)
        old_key = {**old_key, RETIRE_AT: (now + self.grace).isoformat(timespec="seconds")}
        self.store.write([hs256.jwk(new), old_key, *kept])

    def test(self, value: Secret) -> None:
        """The set verifiers read now holds ``value`` under its kid."""
        kid = hs256.thumbprint(value)
        if not any(k.get("kid") == kid and _holds(k, value) and RETIRE_AT not in k for k in self.store.read()):
            raise TargetError(f"jwks: {self.store.path} does not hold the new key (kid {kid})")

    def revert(self, old: Secret, new: Secret) -> None:
        """Put the set back as apply() found it."""
        if self._before is not None:
            self.store.write(self._before)
            self._before = None

    def promoted(self, old: Secret, new: Secret, *, compromised: bool) -> str:
        """Compromised: the old key leaves the set now. Scheduled: it stays until its ``retire_at``."""
        kid = hs256.thumbprint(old)
        if not compromised:
            return f"old kid {kid} kept in {self.store.path} for the grace window ({self.grace})"
        self.store.write([k for k in self.store.read() if not _holds(k, old)])
        return f"old kid {kid} removed from {self.store.path} at once"

    def housekeep(self, now: datetime) -> str:
        """Drop keys whose grace window has ended; what was removed ("" for nothing)."""
        keys = self.store.read()
        gone = [k for k in keys if _retired(k, now)]
        if not gone:
            return ""
        self.store.write([k for k in keys if not _retired(k, now)])
        return f"removed {len(gone)} retired key(s) from {self.store.path}: kid " + ", ".join(
            str(k.get("kid")) for k in gone)

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """The set no longer holds the leaked key (neither its kid nor its material)."""
        kid = hs256.thumbprint(leaked)
        rejected = not any(_holds(k, leaked) for k in self.store.read())
        detail = (f"kid {kid} is no longer in {self.store.path}" if rejected
                  else f"kid {kid} is still in {self.store.path}")
        return LeakProof(leaked_rejected=rejected, detail=detail)
