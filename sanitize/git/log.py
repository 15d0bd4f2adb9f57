"""The raw log: ``git log --raw -z --no-abbrev`` with one ``\\x01<commit>`` marker before each commit.

The whole history's raw log (:data:`HISTORY`: topological order, no rename
detection, merges diffed against their first parent) is read once per purge:
the scan streams it to locate findings (:func:`raw_blocks`, hyperscan finds
the ids it wants in the bytes) and keeps a copy in the workdir, keyed on the
tip commits; plan and the rewrite's blast radius parse that copy
(:func:`history_changes`) instead of walking history again. Commit ids name
their content, so the log of a set of tips is the same in any repository that
holds them. :func:`changes` reads the log of a few commits (rename detection
where a path was deleted).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sanitize.git.runner import finish, popen, run

MARKER = b"\x01"
#: A NUL before the marker: a commit's header token always follows an empty token, which no path is, so a
#: path spelled exactly like a header (the marker byte and 40 hex digits) is never read as a commit.
FORMAT = "--format=%x00%x01%H"
_BLOCK = 8 << 20
CACHE_SCHEMA = "git-sanitize/raw-log/v2"
#: The whole-history reading scan, plan and the blast radius share. First-parent diffs show every path
#: a merge's tree has that its first parent's does not (a superset of the combined diff), so each
#: (path, blob) of every tree appears at some commit; ``--root`` whatever ``log.showRoot`` says.
HISTORY: tuple[str, ...] = ("--topo-order", "--reverse", "--no-renames", "--diff-merges=first-parent", "--root")

# A commit's header token: the marker and a full id, a whole NUL-separated token after an empty one
# (FORMAT's NUL). A path may hold the marker byte, or be spelled exactly like a header, but is never empty.
_HEADER = re.compile(rb"\x01([0-9a-f]{40}(?:[0-9a-f]{24})?)")


def header(token: bytes) -> str | None:
    """The commit id if ``token`` (one NUL-separated token of the log, after an empty one) is a commit's
    header, else None."""
    m = _HEADER.fullmatch(token.lstrip(b"\n"))
    return m.group(1).decode("ascii") if m else None


def _starts_header(block: bytes, at: int) -> bool:
    """Whether the marker byte at ``at`` starts a header: a block's start (blocks are cut before headers),
    the log's first token, or a token after an empty one."""
    return at == 0 or (block[at - 1] == 0 and (at == 1 or block[at - 2] == 0))


def commit_before(block: bytes, end: int) -> tuple[int, str]:
    """The offset and id of the last commit header in ``block`` before ``end`` (a path is never one)."""
    at = end
    while True:
        at = block.rfind(MARKER, 0, at)
        if at < 0:
            raise ValueError("no commit header before the offset")
        if _starts_header(block, at):
            stop = block.find(b"\0", at)
            commit = header(block[at:stop if stop >= 0 else len(block)])
            if commit is not None:
                return at, commit


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
    args = ["log", "--stdin", "--raw", "-z", "--no-abbrev", "-c", FORMAT, "--no-color"]
    args.append("-M" if renames else "--no-renames")
    if not walk:
        args.append("--no-walk=unsorted")
    yield from parse(run(args, cwd=repo, input=starts.encode()).stdout)


def parse(data: bytes) -> Iterator[Change]:
    """Every entry of raw log output (whole commits, each after a :data:`MARKER` header); combined diffs of
    merges (``-c``) give the merge's side of each entry. Read token by token: each path is the token
    after its entry, whatever bytes it holds (the marker byte included)."""
    tokens = data.split(b"\0")
    commit = ""
    i = 0
    while i < len(tokens):
        meta = tokens[i].lstrip(b"\n")
        i += 1
        found = header(meta)
        if found is not None:
            commit = found
            continue
        if not meta.startswith(b":") or not commit:
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


def name_only(data: bytes) -> Iterator[tuple[str, str]]:
    """(commit, path) for every path of ``git log --name-only -z`` output written with :data:`FORMAT`.

    Token by token: a header follows an empty token, which no path is (a path may be spelled like a
    header); git puts one newline before a commit's first path only.
    """
    commit, first, after_empty = "", False, False
    for raw in data.split(b"\0"):
        head = header(raw) if after_empty else None
        after_empty = not raw
        if head is not None:
            commit, first = head, True
            continue
        path = (raw.removeprefix(b"\n") if first else raw).decode("utf-8", "surrogateescape")
        first = False
        if path and commit:
            yield commit, path


def raw_blocks(repo: str | os.PathLike[str], options: Sequence[str], revs: Sequence[str], *,
               purpose: str = "", stdin: bytes | None = None, keep: Path | None = None) -> Iterator[bytes]:
    """The raw log of ``revs`` (with extra ``options`` such as ``--topo-order``) in blocks of whole commits,
    each commit after a :data:`MARKER`; memory stays flat however long the history. GitError if git fails.

    ``stdin``: what ``--stdin`` in ``revs`` reads (git reads it all before it writes). ``keep``: a file
    that receives a copy of the whole log (0600, in place only once git has finished without error).
    """
    proc = popen(_raw_args(options, revs), cwd=repo, stdin=subprocess.PIPE if stdin is not None else None)
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    assert proc.stdout is not None
    yield from _kept(_whole_commits(proc.stdout.read), keep,
                     lambda: finish(proc, f"git log failed{purpose and ' ' + purpose}"))


def _raw_args(options: Sequence[str], revs: Sequence[str]) -> list[str]:
    return ["-c", "core.quotePath=false", "log", *options, "--raw", "--no-abbrev", "-z", FORMAT, *revs]


def _kept(blocks: Iterator[bytes], keep: Path | None, done: Callable[[], None]) -> Iterator[bytes]:
    """``blocks`` passed through; ``done`` (raises if git failed) runs after the last one, and then, only
    then, the copy of every block in ``keep`` is put in place."""
    copy = _Copy(keep) if keep is not None else None
    try:
        for block in blocks:
            if copy is not None:
                copy.write(block)
            yield block
        done()
        if copy is not None:
            copy.commit()
    finally:
        if copy is not None:
            copy.discard()


def cache_file(cache: Path, tips: Iterable[str]) -> Path:
    """Where a workdir keeps the :data:`HISTORY` log of the tip commits ``tips`` (any order, repeats ignored)."""
    key = "\n".join([CACHE_SCHEMA, *HISTORY, *sorted(set(tips))])
    return cache / f"raw-log-{hashlib.sha256(key.encode('ascii')).hexdigest()[:32]}.z"


def history_blocks(repo: str | os.PathLike[str], tips: Iterable[str], *, cache: Path | None = None,
                   keep: bool = True) -> Iterator[bytes]:
    """The :data:`HISTORY` log of everything the tip commits ``tips`` reach, in blocks of whole commits:
    read back from ``cache`` (a purge's workdir) when a stage already walked it, else walked now (and kept
    there unless ``keep`` is False: the log names every path, and a path may hold a secret value).
    The order of commits is not part of the contract (the scan's copy walks ``--all``)."""
    wanted = sorted(set(tips))
    if not wanted:
        return
    kept = cache_file(cache, wanted) if cache is not None else None
    if kept is not None:
        try:
            fh = kept.open("rb")
        except OSError:
            pass  # absent: walk (the copy is only ever a copy)
        else:
            with fh:
                yield from _whole_commits(fh.read)
            return
    stdin = "".join(f"{c}\n" for c in wanted).encode("ascii")
    yield from raw_blocks(repo, HISTORY, ["--stdin"], stdin=stdin, keep=kept if keep else None)


def history_changes(repo: str | os.PathLike[str], tips: Iterable[str], *,
                    cache: Path | None = None, keep: bool = True) -> Iterator[Change]:
    """Every path change in the history of the tip commits ``tips`` (:func:`history_blocks`, parsed)."""
    for block in history_blocks(repo, tips, cache=cache, keep=keep):
        yield from parse(block)


def _whole_commits(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """The bytes ``read`` returns, cut before a :data:`MARKER` into blocks of whole commits."""
    rest = b""
    while True:
        chunk = read(_BLOCK)
        if not chunk:
            break
        data = rest + chunk
        try:
            cut, _commit = commit_before(data, len(data))  # a marker byte inside a path is not a cut
        except ValueError:
            cut = 0
        if cut <= 0:
            rest = data
            continue
        yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest


class _Copy:
    """A file written as the log streams past: a temporary 0600 file beside ``path``, renamed onto it
    (after fsync) only when the whole log was written, removed otherwise."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
        self.tmp: Path | None = Path(tmp)
        self.fh = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.fh.write(data)

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        assert self.tmp is not None
        os.replace(self.tmp, self.path)
        self.tmp = None

    def discard(self) -> None:
        if self.tmp is not None:
            self.fh.close()
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


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

    def blocks(self, purpose: str = "", *, keep: Path | None = None) -> Iterator[bytes]:
        """The log in blocks of whole commits, once git has written it all (started here if not yet);
        ``keep``: a file that receives a copy (as :func:`raw_blocks`)."""
        self.start()
        assert self._proc is not None and self._file is not None
        finish(self._proc, f"git log failed{purpose and ' ' + purpose}")
        self._file.seek(0)
        yield from _kept(_whole_commits(self._file.read), keep, lambda: None)

    def close(self) -> None:
        """Stop git if it still runs (a failed scan) and delete the file."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            if self._file is not None:
                self._file.close()
