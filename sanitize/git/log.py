"""The raw log: ``git log --raw -z --no-abbrev`` with one ``\\x01<commit>`` marker before each commit.

Two readings of it: :func:`changes` parses every entry (plan and the blast
radius: every path a blob lived at, renames, merges as combined diffs), and
:func:`raw_blocks` streams the output in blocks of whole commits for a caller
that searches the bytes itself (the scan finds the ids it wants with
hyperscan instead of parsing every line of a large history).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from sanitize.git.runner import finish, popen, run

MARKER = b"\x01"
_FORMAT = "--format=%x01%H"
_BLOCK = 8 << 20


@dataclass(frozen=True)
class Change:
    """One entry of ``git log --raw``: what a commit did to one path."""

    commit: str
    status: str
    mode: str
    blob: str
    old_path: str | None
    path: str


def changes(repo: str | os.PathLike[str], commits: Iterable[str], *, renames: bool = True,
            walk: bool = True) -> Iterator[Change]:
    """Every path change in the history of ``commits`` (or, with ``walk`` False, in those commits only),
    merges included (combined diff).

    Used to find every path a blob ever lived at, and where that file was moved.
    """
    starts = "".join(f"{c}\n" for c in dict.fromkeys(commits))
    if not starts:
        return
    args = ["log", "--stdin", "--raw", "-z", "--no-abbrev", "-c", _FORMAT, "--no-color"]
    args.append("-M" if renames else "--no-renames")
    if not walk:
        args.append("--no-walk=unsorted")
    data = run(args, cwd=repo, input=starts.encode()).stdout
    for chunk in data.split(MARKER)[1:]:
        commit = chunk[:64].split(b"\0", 1)[0].strip().decode()
        tokens = chunk[len(commit):].split(b"\0")
        i = 0
        while i < len(tokens):
            meta = tokens[i].lstrip(b"\n")
            i += 1
            if not meta.startswith(b":"):
                continue
            ncolon = len(meta) - len(meta.lstrip(b":"))
            fields = meta[ncolon:].split(b" ")
            modes, shas, status = fields[: ncolon + 1], fields[ncolon + 1: 2 * ncolon + 2], fields[-1].decode()
            old = None
            if ncolon == 1 and status[:1] in ("R", "C"):
                old = tokens[i].decode("utf-8", "surrogateescape")
                i += 1
            path = tokens[i].decode("utf-8", "surrogateescape")
            i += 1
            yield Change(commit, status, modes[-1].decode(), shas[-1].decode(), old, path)


def _raw_args(options: Sequence[str], revs: Sequence[str]) -> list[str]:
    return ["-c", "core.quotePath=false", "log", *options, "--raw", "--no-abbrev", "-z", _FORMAT, *revs]


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    rest = b""
    while True:
        chunk = stream.read(_BLOCK)
        if not chunk:
            break
        data = rest + chunk
        cut = data.rfind(MARKER)
        if cut <= 0:
            rest = data
            continue
        yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest


def raw_blocks(repo: str | os.PathLike[str], options: Sequence[str], revs: Sequence[str], *,
               purpose: str = "") -> Iterator[bytes]:
    """The raw log of ``revs`` (with extra ``options`` such as ``--topo-order``) in blocks of whole commits,
    each commit after a :data:`MARKER`; memory stays flat however long the history. GitError if git fails."""
    proc = popen(_raw_args(options, revs), cwd=repo)
    assert proc.stdout is not None
    yield from _blocks(proc.stdout)
    finish(proc, f"git log failed{purpose and ' ' + purpose}")


class RawSpool:
    """The same raw log written to a private temporary file by a ``git log`` started early.

    The scan starts it as soon as its workers report a first finding, so locating
    findings runs beside the reading instead of after it; :meth:`blocks` then reads the
    file. A spool never started (no finding) costs nothing.
    """

    def __init__(self, repo: str | os.PathLike[str], options: Sequence[str], revs: Sequence[str]) -> None:
        self.repo, self.options, self.revs = repo, tuple(options), tuple(revs)
        self._file: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """True once :meth:`start` has run."""
        return self._proc is not None

    def start(self) -> None:
        """Start ``git log`` into the file (idempotent; safe from a pool's result thread)."""
        with self._lock:
            if self._proc is None:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="git-sanitize-log-")
                from sanitize.git.objects import BOUNDED_PACK_WINDOWS  # it runs beside the readers

                self._proc = popen([*BOUNDED_PACK_WINDOWS, *_raw_args(self.options, self.revs)], cwd=self.repo,
                                   stdout=self._file.fileno())

    def blocks(self, purpose: str = "") -> Iterator[bytes]:
        """The log in blocks of whole commits, once git has written it all (started here if not yet)."""
        self.start()
        assert self._proc is not None and self._file is not None
        finish(self._proc, f"git log failed{purpose and ' ' + purpose}")
        self._file.seek(0)
        yield from _blocks(self._file)

    def close(self) -> None:
        """Stop git if it still runs (a failed scan) and delete the file."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            if self._file is not None:
                self._file.close()
