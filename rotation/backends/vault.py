"""HashiCorp Vault / OpenBao KV v2 as a :class:`~rotation.backends.base.SecretBackend` (via hvac).

Layout in the KV mount:
- the secret itself at ``<path>`` (several keys may share it; we only ever
  change ``key`` and write the others back as they were);
- a pending value at ``_rotation-pending/<path>/<key>/<token>`` — a different
  path, so consumers reading ``<path>`` can never pick it up; deleted with
  all its versions on promote or rollback;
- the rotation time of each key in the secret's custom metadata
  (``rotated:<key>``), since other keys of the same secret change its
  ``updated_time`` too.

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
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import hvac
import requests
from hvac import exceptions as hv

from rotation.backends.base import CurrentValue, SecretBackend, SecretRef
from rotation.errors import BackendError, BackendUnavailable, ConflictError, PromotedButUnfinished
from sanitize.git import redact_url
from sanitize.secret import Secret

PENDING_PREFIX = "_rotation-pending"
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
            raise BackendError(f"{ref.name}: no secret at {self._where(path)}")
        if key not in block["data"]:
            raise BackendError(f"{ref.name}: the secret at {self._where(path)} has no key {key!r}")
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
            self._record_rotation(path, key)
            if not keep_previous:
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
        """When this key was last rotated (custom metadata), else when the current version was written."""
        path, key = self._ref_parts(ref)
        meta = self._call(f"read metadata {self._where(path)}", self._kv().read_secret_metadata, path=path)["data"]
        stamp = _parse_time((meta.get("custom_metadata") or {}).get(f"rotated:{key}"))
        if stamp is not None:
            return stamp
        current = str(meta.get("current_version"))
        return _parse_time(((meta.get("versions") or {}).get(current) or {}).get("created_time"))

    def versions(self, ref: SecretRef) -> dict[str, dict[str, Any]]:
        """KV metadata per version (created/deleted/destroyed): for audits and tests."""
        path, _key = self._ref_parts(ref)
        meta = self._call(f"read metadata {self._where(path)}", self._kv().read_secret_metadata, path=path)["data"]
        versions: dict[str, dict[str, Any]] = meta.get("versions") or {}
        return versions

    # -- helpers --------------------------------------------------------------------------

    def _record_rotation(self, path: str, key: str) -> None:
        """Stamp ``rotated:<key>`` in custom metadata, keeping the other metadata settings."""
        meta = self._call(f"read metadata {self._where(path)}", self._kv().read_secret_metadata, path=path)["data"]
        custom = dict(meta.get("custom_metadata") or {})
        custom[f"rotated:{key}"] = datetime.now(UTC).isoformat(timespec="seconds")
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
