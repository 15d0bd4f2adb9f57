"""The raw log: ``git log --raw -z --no-abbrev`` with one ``\\x01<commit>`` marker before each commit.

Two readings of it: :func:`changes` parses every entry (plan and the blast
radius: every path a blob lived at, renames, merges as combined diffs), and
:func:`raw_blocks` streams the output in blocks of whole commits for a caller
that searches the bytes itself (the scan finds the ids it wants with
hyperscan instead of parsing every line of a large history).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sanitize.git.runner import finish, popen, run

MARKER = b"\x01"
_FORMAT = "--format=%x01%H"
_BLOCK = 8 << 20
# A commit's header token: the marker and a full id, a whole NUL-separated token. A path may hold the
# marker byte too (any byte but NUL may be in a path), so the marker alone never starts a commit.
_HEADER = re.compile(rb"\x01([0-9a-f]{40}(?:[0-9a-f]{24})?)")


def header(token: bytes) -> str | None:
    """The commit id if ``token`` (one NUL-separated token of the log) is a commit's header, else None."""
    m = _HEADER.fullmatch(token.lstrip(b"\n"))
    return m.group(1).decode("ascii") if m else None


def commit_before(block: bytes, end: int) -> tuple[int, str]:
    """The offset and id of the last commit header in ``block`` before ``end`` (a byte in a path is not one)."""
    at = end
    while True:
        at = block.rfind(MARKER, 0, at)
        if at < 0:
            raise ValueError("no commit header before the offset")
        if at == 0 or block[at - 1:at] in (b"\0", b"\n"):
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
    args = ["log", "--stdin", "--raw", "-z", "--no-abbrev", "-c", _FORMAT, "--no-color"]
    args.append("-M" if renames else "--no-renames")
    if not walk:
        args.append("--no-walk=unsorted")
    data = run(args, cwd=repo, input=starts.encode()).stdout
    # Read token by token: each path is the token after its entry, whatever bytes it holds.
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


def raw_blocks(repo: str | os.PathLike[str], options: Sequence[str], revs: Sequence[str], *,
               purpose: str = "") -> Iterator[bytes]:
    """The raw log of ``revs`` (with extra ``options`` such as ``--topo-order``) in blocks of whole commits,
    each commit after a :data:`MARKER`; memory stays flat however long the history. GitError if git fails."""
    args = ["-c", "core.quotePath=false", "log", *options, "--raw", "--no-abbrev", "-z", _FORMAT, *revs]
    proc = popen(args, cwd=repo)
    assert proc.stdout is not None
    rest = b""
    while True:
        chunk = proc.stdout.read(_BLOCK)
        if not chunk:
            break
        data = rest + chunk
        try:
            cut, _commit = commit_before(data, len(data))
        except ValueError:
            cut = 0
        if cut <= 0:
            rest = data
            continue
        yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest
    finish(proc, f"git log failed{purpose and ' ' + purpose}")
