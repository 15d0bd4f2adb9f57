"""One workdir per purge: where every stage keeps its artifacts and its state.

Layout (names are part of the contract between stages)::

    DIR/                 mode 0700
      state.json         stage → {status, started, finished, artifacts{name: sha256}, detail}
      findings.json      the scan (when run through a playbook)
      plan.json          the reviewed plan (copied in by rewrite)
      plan.secrets       its literal values, 0600
      mirror.git/        the mirror clone, rewritten in place
      backup.bundle      every ref of the original, 0600, written before any rewrite
      commit-map         old → new commit ids (git-filter-repo's)
      ref-map            old → new ref tips (git-filter-repo's)
      rewrite-report.json / rewrite-report.md
      approvals/         one JSON file per approval
      notices/           rendered notices
      audit.log          append-only JSON lines
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sanitize.audit import AuditLog
from sanitize.errors import UsageError

STATE_SCHEMA = "git-sanitize/state/v1"
STAGES = ("scan", "plan", "rewrite", "notify", "approve", "push", "verify", "guard", "rotate")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_private(path: Path, data: bytes) -> None:
    """Write a file that holds secrets: created 0600, replaced atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes: the artifact digests kept in state.json."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write a non-secret artifact atomically (a crash leaves the old or the new file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Workdir:
    """Paths and state of one purge's workdir."""

    root: Path

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Workdir:
        """Create (or open) the workdir with mode 0700."""
        root = Path(path)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        return cls(root)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workdir:
        """Open an existing workdir; UsageError if it is not one."""
        root = Path(path)
        if not (root / "state.json").is_file():
            raise UsageError(f"{root}: not a git-sanitize workdir (no state.json); run rewrite first")
        mode = stat.S_IMODE(root.stat().st_mode)
        if mode & 0o077:
            raise UsageError(f"{root}: workdir is accessible to other users (mode {mode:o}); chmod 700 it")
        return cls(root)

    # Artifact paths -------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def mirror(self) -> Path:
        return self.root / "mirror.git"

    @property
    def bundle(self) -> Path:
        return self.root / "backup.bundle"

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def plan_secrets(self) -> Path:
        return self.root / "plan.secrets"

    @property
    def commit_map(self) -> Path:
        return self.root / "commit-map"

    @property
    def ref_map(self) -> Path:
        return self.root / "ref-map"

    @property
    def approvals(self) -> Path:
        return self.root / "approvals"

    @property
    def notices(self) -> Path:
        return self.root / "notices"

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.root / "audit.log")

    # State ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The state document (empty skeleton if none yet); UsageError if corrupt."""
        if not self.state_path.exists():
            return {"schema": STATE_SCHEMA, "stages": {}}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{self.state_path}: corrupt state file") from exc
        if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA or not isinstance(data.get("stages"), dict):
            raise UsageError(f"{self.state_path}: not a git-sanitize state file")
        return data

    def stage(self, name: str) -> dict[str, Any]:
        """One stage's record ({} if it never ran)."""
        rec = self.state()["stages"].get(name, {})
        return rec if isinstance(rec, dict) else {}

    def meta(self) -> dict[str, Any]:
        """Run-wide facts (the playbook, approvals required) kept beside the stages."""
        m = self.state().get("meta", {})
        return m if isinstance(m, dict) else {}

    def set_meta(self, **values: Any) -> None:
        """Record run-wide facts; values must be JSON and never secrets."""
        data = self.state()
        data.setdefault("meta", {}).update(values)
        write_atomic(self.state_path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def record(self, name: str, status: str, **detail: Any) -> None:
        """Record a stage's status (``running``, ``done``, ``failed``, ``waiting``) and details."""
        if name not in STAGES:
            raise ValueError(f"unknown stage {name}")
        data = self.state()
        rec = data["stages"].setdefault(name, {})
        if status == "running":
            rec["started"] = _now()
            rec.pop("finished", None)
        elif status in ("done", "failed", "waiting"):
            rec["finished"] = _now()
        rec["status"] = status
        rec.update(detail)
        write_atomic(self.state_path, json.dumps(data, indent=2, sort_keys=True) + "\n")
