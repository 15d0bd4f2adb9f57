"""Rotation's error roots. Backends and targets raise these ``from`` vendor errors,
so the protocol never catches an hvac/boto3/psycopg exception."""

from sanitize.errors import SanitizeError, VerificationFailed


class RotationError(SanitizeError):
    """Base of rotation failures; ``step`` names the protocol step that failed."""

    exit_code = 1

    def __init__(self, message: str, step: str | None = None) -> None:
        super().__init__(f"{step}: {message}" if step else message)
        self.step = step


class ConfigError(RotationError):
    """The rotation config is malformed or names something missing (exit 2)."""

    exit_code = 2


class BackendError(RotationError):
    """The secret store refused, failed, or could not be reached."""


class SecretNotFound(BackendError):
    """The config names a secret (path, key or id) the store does not hold: a typo, bad input (exit 2)."""

    exit_code = 2


class BackendUnavailable(BackendError):
    """The store cannot be reached or refuses our credentials: a setup problem (exit 2)."""

    exit_code = 2


class PromotedButUnfinished(BackendError):
    """The new value is current, but a clean-up after promotion failed (a re-run finishes it).

    Raised by backends after their commit point, so the protocol knows not to
    revert the target without having to ask a store that just went away.
    """


class ConflictError(BackendError):
    """A concurrent writer changed the secret (check-and-set failed); nothing was overwritten."""


class LeaseHeld(ConflictError):
    """Another run, on this host or any other, holds this secret's lease in the store: nothing was changed."""


class LeaseLost(ConflictError):
    """This run's lease expired and another run took it: this run must undo what it wrote and stop."""


class TargetError(RotationError):
    """The system that uses the secret (database, hook) refused the change or the test."""


class LeakStillValid(VerificationFailed):
    """Compromised mode proved the leaked credential still works."""


class StillLive(VerificationFailed):
    """The run finished, but an exposed credential's leaked value still works (or is not known not to)."""
