"""Append-only audit log: one JSON object per line, never a secret value.

Used by approvals, push, and rotation. Each record gets a UTC timestamp and
the acting user; writes are appended with O_APPEND and fsynced so concurrent
writers interleave whole lines and a crash loses at most the line being written.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sanitize.errors import UsageError
from sanitize.secret import Secret


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _check_no_secret(value: Any) -> None:
    if isinstance(value, Secret):
        raise TypeError("a Secret must never be written to the audit log")
    if isinstance(value, Mapping):
        for v in value.values():
            _check_no_secret(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_no_secret(v)


class AuditLog:
    """An append-only JSON-lines file (created 0600)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one record ``{"ts", "actor", "event", **fields}`` and return it."""
        _check_no_secret(fields)
        record = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "actor": _actor(), "event": event, **fields}
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in order; UsageError on a corrupt line."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{self.path}:{n}: corrupt audit record") from exc
