"""A JWT signing key published with a ``kid`` in a JWKS that verifiers read (HS256, RS256, ES256, EdDSA).

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
signer derives the kid of the key it holds. An HS256 set holds secret key
material (``oct`` keys): the file is written 0600 through a temporary in the
same directory and renamed, never left half-written.

Asymmetric keys (:mod:`rotation.signing_keys`; ``generate: {kind: keypair, alg:
RS256|ES256|EdDSA}``): the stored value is the signer's *private* key (a private
JWK or a PEM); the set receives only its *public* JWK (kid: the public key's
thumbprint, or the private JWK's own ``kid``), never a private member, so the
set may be served to anyone. A set that held the old asymmetric key never gets
an ``oct`` key: a ``generate`` that is not ``keypair`` would publish the new
secret, and the rotation stops before anything changes.

```yaml
target: {type: jwks, file: /etc/aurora/jwks.json, grace: 24h}
target: {type: jwks, store: {path: aurora/jwks, key: JWKS}, grace: 24h}   # Vault KV (AWS: secret_id)
```

A store entry is written through the same backend as the secret, with
check-and-set and without keeping earlier versions (they hold retired keys).
It must exist before the first rotation (``{"keys": []}``) and live at a path
of its own: a write to the secret's own path would fail the secret's
check-and-set.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rotation import hs256, signing_keys
from rotation.backends.base import SecretBackend, SecretRef
from rotation.errors import ConfigError, PromotedButUnfinished, RotationError, TargetError
from rotation.schedule import parse_max_age
from rotation.targets import TargetContext
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret

_KEYS = {"type", "file", "store", "grace"}
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


class JwksStoreEntry:
    """A JWKS document kept as one value in the secret store (Vault KV or Secrets Manager)."""

    def __init__(self, backend_config: Any, ref: SecretRef) -> None:
        self.backend_config = backend_config
        self.ref = ref
        self.path = ref.path or ref.secret_id or ref.name  # how messages name it
        self._backend: SecretBackend | None = None

    def _store(self) -> SecretBackend:
        if self._backend is None:  # connect on first use, not when the config is loaded
            self._backend = self.backend_config.create()
        return self._backend

    def _current(self) -> tuple[str, list[dict[str, Any]]]:
        try:
            current = self._store().read_current(self.ref)
        except RotationError as exc:
            raise TargetError(f"jwks: cannot read the key set {self.path} ({exc}); it must exist before the first "
                              'rotation, e.g. {"keys": []}') from None
        try:
            doc = json.loads(current.value.reveal())
        except ValueError:
            raise TargetError(f"jwks: the key set at {self.path} is not JSON") from None
        keys = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise TargetError(f"jwks: {self.path} is not a JWKS document ({{\"keys\": [...]}})")
        return current.version, keys

    def read(self) -> list[dict[str, Any]]:
        """The keys in the store now."""
        return self._current()[1]

    def write(self, keys: list[dict[str, Any]]) -> None:
        """Stage and promote the new document with check-and-set; no earlier version stays readable."""
        version, _ = self._current()
        token = f"jwks-{uuid.uuid4()}"
        store = self._store()
        try:
            store.stage_pending(self.ref, Secret(json.dumps({"keys": keys})), token)
            try:
                store.promote(self.ref, token, version, keep_previous=False)
            except PromotedButUnfinished:
                pass  # current already: the clean-up is redone by the next write
            except RotationError:
                store.discard_pending(self.ref, token)
                raise
        except RotationError as exc:
            raise TargetError(f"jwks: writing the key set {self.path} failed ({exc})") from None


def _published(value: Secret) -> dict[str, Any]:
    """The JWK verifiers get for ``value``: the public key of a private key, the ``oct`` key of an HS256 secret."""
    signing = signing_keys.load(value)
    if signing is None:
        return hs256.jwk(value)
    assert not signing_keys.PRIVATE_MEMBERS & set(signing.public_jwk)  # the set may be public: never a private part
    return dict(signing.public_jwk)


def _kid(value: Secret) -> str:
    signing = signing_keys.load(value)
    return signing.kid if signing is not None else hs256.thumbprint(value)


def _holds(key: dict[str, Any], value: Secret) -> bool:
    """Whether a JWK is ``value`` (by kid or by key material)."""
    signing = signing_keys.load(value)
    if signing is not None:
        material = signing_keys.public_material(signing.public_jwk)
        return key.get("kid") == signing.kid or (material is not None
                                                  and signing_keys.public_material(key) == material)
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


def _store_ref(data: object, ctx: TargetContext) -> SecretRef:
    if not isinstance(data, Mapping) or not all(isinstance(v, str) and v for v in data.values()):
        raise ConfigError("'store' must map path/key (vault) or secret_id[/key] (aws) to strings")
    name = f"{ctx.secret_name} key set"
    if getattr(ctx.backend, "type", None) == "aws":
        if set(data) - {"secret_id", "key"} or "secret_id" not in data:
            raise ConfigError("'store' for the aws backend is {secret_id: ID[, key: K]}")
        return SecretRef(name=name, secret_id=data["secret_id"], key=data.get("key"))
    if set(data) != {"path", "key"}:
        raise ConfigError("'store' for the vault backend is {path: P, key: K}")
    return SecretRef(name=name, path=data["path"].strip("/"), key=data["key"])


class JwksTarget(Target):
    """Publishes the signing key in a JWKS before use; retires the old one after ``grace`` (or at once)."""

    kind = "jwks"

    def __init__(self, store: JwksFile | JwksStoreEntry, *, grace: timedelta = timedelta(hours=24)) -> None:
        self.store = store
        self.grace = grace
        self._before: list[dict[str, Any]] | None = None

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> JwksTarget:
        """``{type: jwks, file: PATH | store: {path, key} | {secret_id[, key]}[, grace: 24h]}``."""
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        try:
            grace = parse_max_age(spec.get("grace", "24h"))
        except ConfigError as exc:
            raise ConfigError(f"'grace': {exc}") from None
        if ("file" in spec) == ("store" in spec):
            raise ConfigError("missing required key 'file' or 'store' (where verifiers read the JWKS; one of them)")
        if "store" in spec:
            return cls(JwksStoreEntry(ctx.backend, _store_ref(spec["store"], ctx)), grace=grace)
        file = spec.get("file")
        if not isinstance(file, str) or not file:
            raise ConfigError("'file' must be the path of the JWKS document verifiers read")
        path = Path(file)
        if not path.parent.is_dir():
            raise ConfigError(f"'file': directory {path.parent} does not exist")
        return cls(JwksFile(path), grace=grace)

    def apply(self, old: Secret, new: Secret) -> None:
        """Publish ``new`` first in the set; keep ``old`` until now + grace; drop keys whose grace ended."""
        now = _now()
        if signing_keys.looks_asymmetric(old) and not signing_keys.looks_asymmetric(new):
            raise TargetError("jwks: the old signing key is asymmetric but the new value is not a private key; "
                              "publishing it would expose the new secret: set generate: {kind: keypair, alg: ...}")
        published = _published(new)
        old_published = _published(old)
        keys = self.store.read()
        self._before = keys
        kept = [k for k in keys if not _retired(k, now) and not _holds(k, new) and not _holds(k, old)]
        old_key = next((k for k in keys if _holds(k, old)), None) or old_published
        old_key = {**old_key, RETIRE_AT: (now + self.grace).isoformat(timespec="seconds")}
        self.store.write([published, old_key, *kept])

    def test(self, value: Secret) -> None:
        """The set verifiers read now holds ``value`` under its kid."""
        kid = _kid(value)
        if not any(k.get("kid") == kid and _holds(k, value) and RETIRE_AT not in k for k in self.store.read()):
            raise TargetError(f"jwks: {self.store.path} does not hold the new key (kid {kid})")

    def revert(self, old: Secret, new: Secret) -> None:
        """Put the set back as apply() found it."""
        if self._before is not None:
            self.store.write(self._before)
            self._before = None

    def promoted(self, old: Secret, new: Secret, *, compromised: bool) -> str:
        """Compromised: the old key, and every key still in a grace window, leave the set now (no grace for
        anything that may have leaked with it). Scheduled: the old key stays until its ``retire_at``."""
        kid = _kid(old)
        if not compromised:
            return f"old kid {kid} kept in {self.store.path} for the grace window ({self.grace})"
        keys = self.store.read()
        keep = [k for k in keys if not _holds(k, old) and (RETIRE_AT not in k or _holds(k, new))]
        self.store.write(keep)
        others = len(keys) - len(keep) - 1
        return f"old kid {kid} removed from {self.store.path} at once" + (
            f", with {others} other key(s) still in their grace window" if others > 0 else "")

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
        kid = _kid(leaked)
        rejected = not any(_holds(k, leaked) for k in self.store.read())
        detail = (f"kid {kid} is no longer in {self.store.path}" if rejected
                  else f"kid {kid} is still in {self.store.path}")
        return LeakProof(leaked_rejected=rejected, detail=detail)
