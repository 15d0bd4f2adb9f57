"""The seam between the rotation protocol and a secret store.

A rotation is create → set → test → finish. The store's part: read the
current value, stage a pending value (idempotent per rotation token), read it
back, promote it to current only if nobody else wrote meanwhile, or discard
it on rollback. Implementations raise :class:`~rotation.errors.BackendError`
(or :class:`~rotation.errors.ConflictError`) ``from`` the vendor error.
"""

from __future__ import annotations

import os
import socket
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sanitize.secret import Secret


@dataclass(frozen=True)
class SecretRef:
    """Where one named secret lives: Vault ``path``+``key``, or an AWS ``secret_id``."""

    name: str
    path: str | None = None
    key: str | None = None
    secret_id: str | None = None


@dataclass(frozen=True)
class CurrentValue:
    """The value consumers read now, its store version, and when it was last written."""

    value: Secret
    version: str
    updated: datetime | None


@dataclass
class Lease:
    """This run's claim on one secret, held in the store itself (so it binds every host).

    ``owner`` names the run (host, pid, run id: never a credential); ``handle``
    is the store's own check-and-set token for the lease (a KV version, a
    Secrets Manager version id), updated by each renewal.
    """

    name: str
    owner: str
    expires: datetime
    handle: str


def lease_owner() -> str:
    """This run's name in a lease: ``host:pid:run-id`` (never a credential)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_gone(owner: str) -> bool:
    """The run holding a lease died on this host (its pid is gone): stale whatever its expiry.

    A run on another host, or a live pid (even a reused one), is never taken for dead.
    """
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class SecretBackend(ABC):
    """A secret store: Vault KV v2 (``vault.py``) or AWS Secrets Manager (``aws.py``)."""

    kind: ClassVar[str]

    @abstractmethod
    def read_current(self, ref: SecretRef) -> CurrentValue:
        """The current value and version; BackendError if it does not exist."""

    @abstractmethod
    def stage_pending(self, ref: SecretRef, value: Secret, token: str) -> None:
        """Store ``value`` as pending for rotation ``token`` without making it current.

        Calling it again with the same token and value is a no-op; with the
        same token and another value it raises ConflictError.
        """

    @abstractmethod
    def read_pending(self, ref: SecretRef, token: str) -> Secret | None:
        """The pending value of rotation ``token``, or None if there is none."""

    @abstractmethod
    def promote(self, ref: SecretRef, token: str, expected_version: str, *, keep_previous: bool) -> str:
        """Make the pending value current if the current version is still
        ``expected_version`` (ConflictError otherwise). With ``keep_previous``
        False (compromised mode) the old value must not remain readable as a
        fallback. Returns the new current version id."""

    @abstractmethod
    def discard_pending(self, ref: SecretRef, token: str) -> None:
        """Rollback: remove the pending value of ``token``; current stays as it was."""

    def last_rotated(self, ref: SecretRef) -> datetime | None:
        """When the current value was written (for ``--due``); default: its ``updated``."""
        return self.read_current(ref).updated

    # -- the cross-host lease -----------------------------------------------------------------------------

    @abstractmethod
    def acquire_lease(self, ref: SecretRef, owner: str, ttl: timedelta) -> Lease:
        """Claim ``ref`` for ``ttl`` with a check-and-set write in the store; LeaseHeld if another run holds it."""

    @abstractmethod
    def renew_lease(self, ref: SecretRef, lease: Lease, ttl: timedelta) -> None:
        """Extend this run's lease (before each change it makes); LeaseLost if another run took it."""

    @abstractmethod
    def release_lease(self, ref: SecretRef, lease: Lease) -> None:
        """Give the lease up (only if it is still this run's; never raises for a lease already gone)."""
