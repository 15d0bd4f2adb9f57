"""HashiCorp Vault / OpenBao KV v2 as a :class:`~rotation.backends.base.SecretBackend` (via hvac).

Layout in the KV mount:
- the secret itself at ``<path>`` (several keys may share it; we only ever
  change ``key`` and write the others back as they were);
- a pending value at ``_rotation-pending/<path>/<key>/<token>`` — a different
  path, so consumers reading ``<path>`` can never pick it up; deleted with
  all its versions on promote or rollback;
- no clock of our own: a key's age (for ``--due``) is the KV ``created_time``
  of the oldest version in the unbroken run of versions that hold its current
  value, so writing a sibling key does not make it look fresh. Compromised
  mode destroys the earlier versions; before it does, the other keys' ages
  (read from those versions' own ``created_time``) are kept in the secret's
  custom metadata as ``value-since:<key>`` = ``<version>@<time>``.

Promotion writes with ``cas=<version we started from>``: a concurrent writer
makes Vault refuse (``InvalidRequest``) and we raise ConflictError, never
overwriting. Compromised mode then destroys every earlier version
(``destroy``, not ``delete``: deleted versions can be undeleted) so the leaked
value is not a readable fallback. The token needs read/write on ``<path>``,
``_rotation-pending/*``, metadata, and ``destroy``.

Unreachable server and refused token are :class:`BackendUnavailable` (exit 2,
bad input): nothing was changed and the operator must fix the config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import hvac
import requests
from hvac import exceptions as hv

from rotation.backends.base import CurrentValue, Lease, SecretBackend, SecretRef, owner_gone
from rotation.errors import (
    BackendError,
    BackendUnavailable,
    ConflictError,
    LeaseHeld,
    LeaseLost,
    PromotedButUnfinished,
    SecretNotFound,
)
from sanitize.git import redact_url
from sanitize.secret import Secret

PENDING_PREFIX = "_rotation-pending"
LEASE_PREFIX = "_rotation-lease"
T = TypeVar("T")


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.rstrip("Z")
    if "." in text:  # Vault gives nanoseconds; fromisoformat takes at most microseconds
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class VaultBackend(SecretBackend):
    """KV v2 secrets under ``mount``; one ``key`` of the secret at ``path`` per SecretRef."""

    kind: ClassVar[str] = "vault"

    def __init__(self, url: str, token: Secret, *, mount: str = "secret", client: Any = None,
                 timeout: float = 10.0) -> None:
        self.url = url  # as given (user info included) for the client; messages get the redacted form
        self.shown_url = redact_url(url)
        self.mount = mount
        self.client = client or hvac.Client(url=url, token=token.reveal(), timeout=timeout)

    # -- error boundary -----------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate hvac/requests errors into ours, naming the operation, never a value."""
        try:
            yield
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise BackendUnavailable(f"vault at {self.shown_url} is unreachable ({what})") from exc
        except (hv.Forbidden, hv.Unauthorized) as exc:
            raise BackendUnavailable(
                f"vault at {self.shown_url} refused the token: permission denied ({what})") from exc
        except (hv.VaultDown, hv.VaultNotInitialized) as exc:
            raise BackendUnavailable(f"vault at {self.shown_url} is sealed or not initialised ({what})") from exc
        except hv.InvalidPath as exc:
            raise BackendError(f"vault: nothing at {what}") from exc
        except hv.VaultError as exc:
            raise BackendError(f"vault refused {what}: {type(exc).__name__}") from exc
        except requests.exceptions.RequestException as exc:
            raise BackendError(f"vault request failed ({what}): {type(exc).__name__}") from exc

    def _kv(self) -> Any:
        return self.client.secrets.kv.v2

    def _where(self, path: str) -> str:
        return f"{self.mount}/{path}"

    @staticmethod
    def _ref_parts(ref: SecretRef) -> tuple[str, str]:
        if not ref.path or not ref.key:
            raise BackendError(f"{ref.name}: a vault secret needs both path and key")
        return ref.path, ref.key

    def _pending_path(self, ref: SecretRef, token: str) -> str:
        path, key = self._ref_parts(ref)
        return f"{PENDING_PREFIX}/{path}/{key}/{token}"

    def _read(self, path: str, version: int | None = None) -> dict[str, Any] | None:
        """The ``data`` block of a version (``{"data", "metadata"}``), or None if absent."""
        try:
            with self._errors(f"read {self._where(path)}"):
                resp = self._kv().read_secret_version(path=path, version=version, mount_point=self.mount,
                                                      raise_on_deleted_version=True)
        except BackendError as exc:
            if isinstance(exc.__cause__, hv.InvalidPath):
                return None
            raise
        data: dict[str, Any] = resp["data"]
        return data

    def _call(self, what: str, fn: Callable[..., T], **kw: Any) -> T:
        with self._errors(what):
            return fn(mount_point=self.mount, **kw)

    # -- SecretBackend ------------------------------------------------------------------

    def read_current(self, ref: SecretRef) -> CurrentValue:
        """The key's value in the latest version of ``path``; its version and creation time."""
        path, key = self._ref_parts(ref)
        block = self._read(path)
        if block is None or not isinstance(block.get("data"), dict):
            raise SecretNotFound(f"{ref.name}: no secret at {self._where(path)}; check its path in the config")
        if key not in block["data"]:
            raise SecretNotFound(f"{ref.name}: the secret at {self._where(path)} has no key {key!r}; check its key "
                                 "in the config")
        value = block["data"][key]
        if not isinstance(value, str):
            raise BackendError(f"{ref.name}: key {key!r} at {self._where(path)} is not a string")
        meta = block.get("metadata") or {}
        return CurrentValue(value=Secret(value), version=str(meta.get("version")),
                            updated=_parse_time(meta.get("created_time")))

    def stage_pending(self, ref: SecretRef, value: Secret, token: str) -> None:
        """Write the pending value at its own path (cas=0: only if that path is new)."""
        ppath = self._pending_path(ref, token)
        _path, key = self._ref_parts(ref)
        existing = self._read(ppath)
        if existing is not None:
            if (existing.get("data") or {}).get(key) == value.reveal():
                return
            raise ConflictError(f"{ref.name}: rotation {token} already staged another value")
        try:
            self._call(f"stage pending for {ref.name}", self._kv().create_or_update_secret,
                       path=ppath, secret={key: value.reveal()}, cas=0)
        except BackendError as exc:
            if isinstance(exc.__cause__, hv.InvalidRequest):
                raise ConflictError(f"{ref.name}: rotation {token} was staged concurrently") from exc
            raise

    def read_pending(self, ref: SecretRef, token: str) -> Secret | None:
        """The value staged by ``token`` (read back from the store), or None."""
        _path, key = self._ref_parts(ref)
        block = self._read(self._pending_path(ref, token))
        if block is None:
            return None
        value = (block.get("data") or {}).get(key)
        return Secret(value) if isinstance(value, str) else None

    def promote(self, ref: SecretRef, token: str, expected_version: str, *, keep_previous: bool) -> str:
        """Write the pending value as the key's new current value with check-and-set."""
        path, key = self._ref_parts(ref)
        pending = self.read_pending(ref, token)
        if pending is None:
            raise BackendError(f"{ref.name}: no pending value for rotation {token}")
        current = self._read(path)
        if current is None:
            raise BackendError(f"{ref.name}: no secret at {self._where(path)}")
        version = str((current.get("metadata") or {}).get("version"))
        if version != expected_version:
            raise ConflictError(f"{ref.name}: {self._where(path)} changed from version {expected_version} to "
                                f"{version} during the rotation; nothing overwritten")
        data = dict(current.get("data") or {})
        data[key] = pending.reveal()
        try:
            resp = self._call(f"promote {ref.name}", self._kv().create_or_update_secret,
                              path=path, secret=data, cas=int(expected_version))
        except BackendError as exc:
            if isinstance(exc.__cause__, hv.InvalidRequest):
                raise ConflictError(f"{ref.name}: {self._where(path)} was written concurrently (check-and-set "
                                    f"on version {expected_version} failed); nothing overwritten") from exc
            raise
        new_version = int(resp["data"]["version"])
        try:  # past the commit point: a failure here must not make the protocol revert the target
            if not keep_previous:
                self._keep_ages(path, key, data, new_version)
                self._destroy_before(path, new_version)
            self.discard_pending(ref, token)
        except BackendError as exc:
            raise PromotedButUnfinished(f"{ref.name}: version {new_version} is current, but {exc}") from exc
        return str(new_version)

    def discard_pending(self, ref: SecretRef, token: str) -> None:
        """Delete the pending path and all its versions (a no-op if it is already gone)."""
        ppath = self._pending_path(ref, token)
        try:
            self._call(f"discard pending for {ref.name}", self._kv().delete_metadata_and_all_versions, path=ppath)
        except BackendError as exc:
            if not isinstance(exc.__cause__, hv.InvalidPath):
                raise

    def last_rotated(self, ref: SecretRef) -> datetime | None:
        """Since when the key has held its current value, from the store's own version metadata."""
        path, key = self._ref_parts(ref)
        return self._value_since(path, key)

    def _value_since(self, path: str, key: str) -> datetime | None:
        """``created_time`` of the oldest version in the unbroken run holding the key's current value.

        The walk stops at a version that holds another value, or that was
        deleted or destroyed; there, a ``value-since:<key>`` kept by a
        compromised rotation for exactly that version answers instead.
        """
        meta = self._call(f"read metadata {self._where(path)}", self._kv().read_secret_metadata, path=path)["data"]
        versions: dict[str, Any] = meta.get("versions") or {}
        current = int(meta.get("current_version") or 0)
        block = self._read(path)
        if block is None or current == 0:
            return None
        value = (block.get("data") or {}).get(key)
        earliest = current
        for v in range(current - 1, 0, -1):
            info = versions.get(str(v)) or {}
            if not info or info.get("destroyed") or info.get("deletion_time"):
                break
            older = self._read(path, v)
            if older is None or (older.get("data") or {}).get(key) != value:
                break
            earliest = v
        kept = str((meta.get("custom_metadata") or {}).get(f"value-since:{key}") or "")
        kept_version, _, kept_time = kept.partition("@")
        if kept_version == str(earliest) and _parse_time(kept_time) is not None:
            return _parse_time(kept_time)
        return _parse_time((versions.get(str(earliest)) or {}).get("created_time"))

    # -- the cross-host lease -------------------------------------------------------------
    #
    # One KV secret per rotated key at _rotation-lease/<path>/<key>: {"owner", "expires"}.
    # Every write names the version it read (cas), so of two runs that read the same
    # state only one write lands; a released lease is written back with owner "".

    def _lease_path(self, ref: SecretRef) -> str:
        path, key = self._ref_parts(ref)
        return f"{LEASE_PREFIX}/{path}/{key}"

    def _lease_state(self, ref: SecretRef) -> tuple[int, str, datetime | None]:
        """(version, owner, expires) of the lease key; version 0 when it was never written."""
        block = self._read(self._lease_path(ref))
        if block is None:
            return 0, "", None
        data = block.get("data") or {}
        version = int((block.get("metadata") or {}).get("version") or 0)
        return version, str(data.get("owner") or ""), _parse_time(data.get("expires"))

    def _write_lease(self, ref: SecretRef, owner: str, expires: datetime | None, cas: int) -> int:
        body = {"owner": owner, "expires": expires.isoformat() if expires else ""}
        try:
            resp = self._call(f"write the lease of {ref.name}", self._kv().create_or_update_secret,
                              path=self._lease_path(ref), secret=body, cas=cas)
        except BackendError as exc:
            if isinstance(exc.__cause__, hv.InvalidRequest):
                raise LeaseHeld(f"{ref.name}: another run wrote its lease at the same moment") from exc
            raise
        return int(resp["data"]["version"])

    def acquire_lease(self, ref: SecretRef, owner: str, ttl: timedelta) -> Lease:
        """Claim the key: write the lease with cas on the version read, if it is free, released, expired, or
        held by a run that died on this host."""
        version, holder, expires = self._lease_state(ref)
        now = datetime.now(UTC)
        if holder and holder != owner and expires is not None and expires > now and not owner_gone(holder):
            raise LeaseHeld(f"{ref.name}: run {holder} holds the lease until {expires.isoformat(timespec='seconds')}")
        until = now + ttl
        new_version = self._write_lease(ref, owner, until, cas=version)
        return Lease(name=ref.name, owner=owner, expires=until, handle=str(new_version))

    def renew_lease(self, ref: SecretRef, lease: Lease, ttl: timedelta) -> None:
        """Extend the lease with cas on the version this run wrote last; LeaseLost if anyone wrote since."""
        until = datetime.now(UTC) + ttl
        try:
            lease.handle = str(self._write_lease(ref, lease.owner, until, cas=int(lease.handle)))
        except LeaseHeld as exc:
            _version, holder, _expires = self._lease_state(ref)
            raise LeaseLost(f"{ref.name}: this run's lease expired and run {holder or 'another run'} "
                            "took it") from exc
        lease.expires = until

    def release_lease(self, ref: SecretRef, lease: Lease) -> None:
        """Write the lease back as free, with cas: a lease another run took meanwhile is left alone."""
        try:
            self._write_lease(ref, "", None, cas=int(lease.handle))
        except (LeaseHeld, BackendError):
            pass  # not ours any more, or the store went away: it expires on its own

    # -- helpers --------------------------------------------------------------------------

    def _keep_ages(self, path: str, rotated: str, data: dict[str, Any], new_version: int) -> None:
        """Before destroying history: note since when each other key holds its value (the store's times)."""
        meta = self._call(f"read metadata {self._where(path)}", self._kv().read_secret_metadata, path=path)["data"]
        custom = {k: v for k, v in (meta.get("custom_metadata") or {}).items()
                  if not k.startswith(("value-since:", "rotated:"))}
        for other in sorted(data):
            since = None if other == rotated else self._value_since(path, other)
            if since is not None:
                custom[f"value-since:{other}"] = f"{new_version}@{since.isoformat()}"
        self._call(f"update metadata {self._where(path)}", self._kv().update_metadata, path=path,
                   max_versions=meta.get("max_versions") or None, cas_required=meta.get("cas_required"),
                   delete_version_after=meta.get("delete_version_after") or "0s", custom_metadata=custom)

    def _destroy_before(self, path: str, new_version: int) -> None:
        """Permanently destroy every version older than ``new_version`` (compromised mode)."""
        meta = self._call(f"read metadata {self._where(path)}", self._kv().read_secret_metadata, path=path)["data"]
        old = sorted(int(v) for v, info in (meta.get("versions") or {}).items()
                     if int(v) < new_version and not (info or {}).get("destroyed"))
        if old:
            self._call(f"destroy old versions of {self._where(path)}", self._kv().destroy_secret_versions,
                       path=path, versions=old)
