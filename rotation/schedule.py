"""Scheduled rotation: how old a secret may get, whether it is due, and the per-secret lock.

The lock is ``fcntl.flock`` on one file per (backend, secret), taken
non-blocking: a second run that finds it held skips the secret ("locked by
another run") instead of waiting and rotating it again. The kernel drops the
lock when the process dies, so a crashed run never wedges the schedule.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from rotation.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_max_age(value: object) -> timedelta:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"``, ``"45s"`` (or an int of seconds) → timedelta."""
    if isinstance(value, bool):
        raise ConfigError("must be a duration like 30d, 12h, 90m")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := _AGE.match(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError("must be a duration like 30d, 12h, 90m")
    if not 0 < seconds <= 100 * 365 * 86400:
        raise ConfigError("must be a positive duration of at most 100 years")
    return timedelta(seconds=seconds)


def is_due(last_rotated: datetime | None, max_age: timedelta | None, now: datetime | None = None) -> bool:
    """Due when older than ``max_age``. No max_age: never due on schedule. Unknown age: due."""
    if max_age is None:
        return False
    if last_rotated is None:
        return True
    now = now or datetime.now(UTC)
    if last_rotated.tzinfo is None:
        last_rotated = last_rotated.replace(tzinfo=UTC)
    return now - last_rotated >= max_age


def default_lock_dir() -> Path:
    """Per-host directory for rotation locks (``$XDG_RUNTIME_DIR`` or the temp dir)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / "git-sanitize-rotation-locks"


class Locked(Exception):
    """Another run holds the lock for this secret."""


class SecretLock:
    """Exclusive, non-blocking lock for one secret of one backend (a context manager)."""

    def __init__(self, lock_dir: Path, backend_identity: str, secret_name: str) -> None:
        digest = hashlib.sha256(f"{backend_identity}\0{secret_name}".encode()).hexdigest()[:32]
        self.path = lock_dir / f"{digest}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`Locked` at once."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot use the lock directory {self.path.parent} ({exc.strerror}); "
                              "set lock_dir in the rotation config") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Locked(str(self.path)) from None
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays, so the next run reuses it)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SecretLock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
