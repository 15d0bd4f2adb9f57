"""Reading objects: the product's one ``git cat-file --batch`` reader and one ``--batch-check``.

Both stream: ids are fed by a thread while the output is read, so neither side
of the pipe fills up and memory holds one object at a time. Object names
(``<commit>:<path>``, ``<id>^{commit}``) are sent NUL-terminated (``-z``) so a
path may hold any byte but NUL.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO

from sanitize.git.runner import finish, popen

Repo = str | os.PathLike[str]
_CHECK_FORMAT = "--batch-check=%(objectname) %(objecttype) %(objectsize)"
# A long-lived reader maps its way through the whole pack: git's default limits (1 GiB windows, 8+ GiB in
# all) let its resident size grow to the pack's size, once per reader. Smaller windows, unmapped as it goes,
# keep each process's share of the scan's memory bounded.
BOUNDED_PACK_WINDOWS = ("-c", "core.packedGitWindowSize=32m", "-c", "core.packedGitLimit=96m")


@dataclass(frozen=True)
class ObjectInfo:
    """What ``--batch-check`` says of one object."""

    oid: str
    type: str
    size: int


def _feed(proc: subprocess.Popen[bytes], payload: bytes) -> threading.Thread:
    def write() -> None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(payload)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def _finish(proc: subprocess.Popen[bytes], writer: threading.Thread | None, what: str) -> None:
    if writer is not None:
        writer.join()
    finish(proc, f"git cat-file failed {what}")


def _names(names: Sequence[str]) -> bytes:
    return b"".join(n.encode("utf-8", "surrogateescape") + b"\0" for n in names)


def read(repo: Repo, oids: Iterable[str] | None = None) -> Iterator[tuple[str, str, bytes]]:
    """(id, type, content) of each object named, in order (missing ones left out); with ``oids``
    None, of every object in the repository, reachable or not, in pack order."""
    if oids is None:
        proc = popen(["cat-file", "--batch-all-objects", "--batch", "--unordered"], cwd=repo)
        writer, count, what = None, -1, f"while reading every object of {repo}"
    else:
        wanted = list(oids)
        proc = popen(["cat-file", "-z", "--batch"], cwd=repo, stdin=subprocess.PIPE)
        writer, count, what = _feed(proc, _names(wanted)), len(wanted), "while reading objects"
    assert proc.stdout is not None
    try:
        yield from _parse(proc.stdout, count)
    finally:
        _finish(proc, writer, what)


def _parse(out: IO[bytes], count: int) -> Iterator[tuple[str, str, bytes]]:
    while count != 0:
        count -= 1
        header = out.readline()
        if not header:
            return
        parts = header.split()
        if len(parts) != 3 or parts[-1] in (b"missing", b"ambiguous"):
            continue
        size = int(parts[2])
        data = out.read(size)
        out.read(1)
        yield parts[0].decode("ascii"), parts[1].decode("ascii"), data


class BatchReader:
    """One long-lived ``git cat-file -z --batch`` answering batch after batch of ids.

    A scan worker reads its chunks through one reader instead of one process per chunk:
    cat-file's delta-base cache then survives between chunks (restarting it every 4,000
    objects cost 1.5x the CPU of one reader on pytest's history). Each :meth:`read` must
    be consumed to the end before the next one; :meth:`close` ends the process and raises
    GitError if it failed.
    """

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._proc = popen([*BOUNDED_PACK_WINDOWS, "cat-file", "-z", "--batch"], cwd=repo, stdin=subprocess.PIPE)

    def read(self, oids: Sequence[str]) -> Iterator[tuple[str, str, bytes]]:
        """(id, type, content) of each id, in order (missing ones left out)."""
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def write() -> None:
            try:
                stdin.write(_names(oids))
                stdin.flush()
            except (BrokenPipeError, OSError):
                pass

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            yield from _parse(proc.stdout, len(oids))
        finally:
            writer.join()

    def close(self) -> None:
        """End the process (idempotent); GitError if cat-file failed."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        if self._proc.returncode is None:
            if self._proc.stdout is not None:
                self._proc.stdout.read()
            finish(self._proc, "git cat-file failed while reading objects")


def check(repo: Repo, names: Sequence[str]) -> list[ObjectInfo | None]:
    """What each name (an id, ``<commit>:<path>``, ``<id>^{commit}``) resolves to; None where nothing."""
    if not names:
        return []
    encoded = [n.encode("utf-8", "surrogateescape") for n in names]
    proc = popen(["cat-file", "-z", _CHECK_FORMAT], cwd=repo, stdin=subprocess.PIPE)
    writer = _feed(proc, b"".join(n + b"\0" for n in encoded))
    assert proc.stdout is not None
    result: list[ObjectInfo | None] = []
    try:
        data = proc.stdout.read()
    finally:
        _finish(proc, writer, "while checking objects")
    pos = 0
    for name in encoded:
        # A name git cannot resolve is echoed back ("<name> missing"), and the name may hold a newline.
        for word in (b" missing\n", b" ambiguous\n"):
            if data.startswith(name + word, pos):
                pos += len(name) + len(word)
                result.append(None)
                break
        else:
            end = data.index(b"\n", pos)
            oid, kind, size = data[pos:end].decode("ascii").split()
            pos = end + 1
            result.append(ObjectInfo(oid, kind, int(size)))
    return result


def check_all(repo: Repo) -> dict[str, ObjectInfo]:
    """Every object in the repository, reachable or not → what ``--batch-check`` says of it."""
    proc = popen(["cat-file", "--batch-all-objects", _CHECK_FORMAT], cwd=repo)
    assert proc.stdout is not None
    try:
        text = proc.stdout.read().decode("ascii")
    finally:
        _finish(proc, None, f"while listing every object of {repo}")
    result: dict[str, ObjectInfo] = {}
    for line in text.splitlines():
        oid, kind, size = line.split()
        result[oid] = ObjectInfo(oid, kind, int(size))
    return result


def present(repo: Repo, ids: Iterable[str]) -> list[str]:
    """The ids among ``ids`` whose object is in the repository (sorted, each once)."""
    wanted = sorted(set(ids))
    return [i for i, info in zip(wanted, check(repo, wanted), strict=True) if info is not None]


class TypeProbe:
    """One long-lived ``--batch-check`` answering one id at a time (inside a callback that cannot
    batch its questions); a context manager that ends the process."""

    def __init__(self, repo: Repo) -> None:
        self._proc = popen(["cat-file", "--batch-check=%(objecttype)"], cwd=repo, stdin=subprocess.PIPE)

    def type_of(self, oid: str | bytes) -> str:
        """The object's type (``blob``, ``commit``…), or ``missing``."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write((oid.encode("ascii") if isinstance(oid, str) else oid) + b"\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().strip().decode("ascii", "replace")
        return answer.rsplit(" ", 1)[-1] if answer.endswith(" missing") else answer

    def close(self) -> None:
        """End the process (idempotent)."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def __enter__(self) -> TypeProbe:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
