"""The seam between the rotation protocol and the system that uses a secret.

``apply`` makes the system accept the new value, ``test`` proves it does,
``revert`` gives the old credential back on rollback. Values are the full
stored values (for a DSN, the whole DSN; the target takes what it needs).
Implementations raise :class:`~rotation.errors.TargetError` ``from`` the
vendor error, with a message that never contains a value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from sanitize.secret import Secret


@dataclass(frozen=True)
class LeakProof:
    """Compromised mode's evidence about the leaked value on this target."""

    leaked_rejected: bool
    sessions_terminated: int = 0
    detail: str = ""
    #: A done state weaker than "rotated-proven-dead" when the refusal itself was not observed
    #: (``"revoked"``: the provider deleted the credential, a login with it was not yet refused).
    state: str | None = None


class Target(ABC):
    """A system that must accept the rotated value (PostgreSQL role, command hook, …)."""

    kind: str = "none"

    @abstractmethod
    def apply(self, old: Secret, new: Secret) -> None:
        """Make the target accept ``new`` (and, for credentials, stop accepting ``old``)."""

    @abstractmethod
    def test(self, value: Secret) -> None:
        """Prove the target accepts ``value``; TargetError if not."""

    @abstractmethod
    def revert(self, old: Secret, new: Secret) -> None:
        """Rollback after a failed rotation: the target accepts ``old`` again."""

    def promoted(self, old: Secret, new: Secret, *, compromised: bool) -> str:
        """After the store made ``new`` current: finish at the target (e.g. drop the old signing key).

        Returns what was done ("" for nothing); TargetError if it failed (nothing is rolled back then).
        """
        return ""

    def housekeep(self, now: datetime) -> str:
        """A run where this secret is not due: tidy up at the target (e.g. drop keys whose grace ended).

        Returns what was done ("" for nothing; the default).
        """
        return ""

    def prove_leak_dead(self, leaked: Secret) -> LeakProof | None:
        """Compromised mode: show the leaked value no longer works (None: not applicable)."""
        return None


class StoreOnly(Target):
    """No target: the value lives only in the store."""

    kind = "none"

    def apply(self, old: Secret, new: Secret) -> None:
        """Nothing to change outside the store."""

    def test(self, value: Secret) -> None:
        """Nothing to test outside the store (the protocol reads the store back)."""

    def revert(self, old: Secret, new: Secret) -> None:
        """Nothing to revert outside the store."""
