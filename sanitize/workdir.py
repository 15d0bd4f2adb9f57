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
      commit-graph-*.json  the commit graph of the scanned tips, walked once (sanitize/git/graph.py)
      rewrite-report.json / rewrite-report.md
      approvals/         one JSON file per approval
      notices/           rendered notices
      audit.log          append-only JSON lines
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sanitize.artifacts import state as state_doc
from sanitize.artifacts.state import STAGES as STAGES
from sanitize.artifacts.state import RunMeta, StageRecord, State
from sanitize.audit import AuditLog
from sanitize.errors import UsageError

STATE_SCHEMA = state_doc.SCHEMA


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_replacing(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file beside ``path`` and rename it over ``path``.

    The temporary is created by :func:`tempfile.mkstemp` (``O_CREAT|O_EXCL``, never
    following a symlink planted under its name) with ``mode``, fsynced, then renamed:
    a crash leaves the old or the new file, and a symlink at ``path`` is replaced, not
    followed. A destination that is not a regular file (``-o /dev/null``, a FIFO) is
    written through instead: renaming over it would replace the device itself.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: the directory entry is on disk too, not only the file's bytes."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a file that holds secrets: created 0600, replaced atomically, never through a symlink."""
    _write_replacing(path, data, 0o600)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes: the artifact digests kept in state.json."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_all(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd`` (``os.write`` may write fewer than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write an artifact atomically (a crash leaves the old or the new file); 0600 unless another
    process must read it (a hook the git server runs)."""
    _write_replacing(path, text.encode("utf-8"), mode)


def _check_owned(root: Path, *, fix_mode: bool) -> None:
    """A workdir holds leaked values: it must be a real directory of ours that nobody else can enter."""
    st = os.lstat(root)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{root}: the workdir is a symlink or not a directory; name the real directory")
    if st.st_uid != os.geteuid():
        raise UsageError(f"{root}: the workdir belongs to another user (uid {st.st_uid}); use a workdir of your own")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        if not fix_mode:
            raise UsageError(f"{root}: workdir is accessible to other users (mode {mode:o}); chmod 700 it")
        os.chmod(root, 0o700)


@dataclass(frozen=True)
class Workdir:
    """Paths and state of one purge's workdir."""

    root: Path

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Workdir:
        """Create (or open) the workdir with mode 0700; UsageError if it is someone else's."""
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise UsageError(f"{root}: not a directory; name a new or existing workdir")
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{root}: cannot create the workdir ({exc.strerror or exc.__class__.__name__})") from None
        _check_owned(root, fix_mode=True)
        return cls(root)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workdir:
        """Open an existing workdir; UsageError if it is not one, or not safely ours."""
        root = Path(path)
        if not (root / "state.json").is_file():
            raise UsageError(f"{root}: not a git-sanitize workdir (no state.json); run rewrite first")
        _check_owned(root, fix_mode=False)
        return cls(root)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the workdir's lock: one stage or run at a time, or UsageError if another holds it.

        The lock is on the directory itself (``flock`` of its descriptor), so nothing is
        written for it and a killed holder releases it with its last descriptor.
        """
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"{self.root}: another git-sanitize is working in this workdir; wait for it to "
                                 "finish, then run again") from None
            yield
        finally:
            os.close(fd)

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
    def state(self) -> State:
        """The state document (empty if none yet); UsageError if corrupt."""
        if not self.state_path.exists():
            return State()
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{self.state_path}: corrupt state file") from exc
        return state_doc.parse(text, str(self.state_path))

    def stage(self, name: str) -> StageRecord:
        """One stage's record (status ``pending`` if it never ran)."""
        return self.state().stage(name)

    def meta(self) -> RunMeta:
        """Run-wide facts (the playbook, approvals required) kept beside the stages."""
        return self.state().meta

    def set_meta(self, **values: Any) -> None:
        """Record run-wide facts; values must be JSON and never secrets."""
        data = self.state()
        self._write(State(data.stages, data.meta.updated(values)))

    def record(self, name: str, status: str, **detail: Any) -> None:
        """Record a stage's status (``running``, ``done``, ``failed``, ``waiting``, ``skipped``) and details."""
        if name not in STAGES:
            raise ValueError(f"unknown stage {name}")
        data = self.state()
        rec = data.stage(name)
        started, finished = rec.started, rec.finished
        if status == "running":
            started, finished = _now(), None
        elif status in ("done", "failed", "waiting"):
            finished = _now()
        new = StageRecord(status, started, finished, {**rec.detail, **detail})
        self._write(data.with_stage(name, new))

    def _write(self, data: State) -> None:
        write_atomic(self.state_path, data.dump())


@contextmanager
def hold(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """The lock of the workdir at ``path`` for one command, if it is one yet (rewrite creates it)."""
    if path is None or not (Path(path) / "state.json").is_file():
        yield
        return
    _check_owned(Path(path), fix_mode=False)
    with Workdir(Path(path)).exclusive():
        yield
