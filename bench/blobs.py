"""Every unique blob of a history, written out once, for a scanner that has no git-history mode.

detect-secrets scans files, not histories. The fair approximation of a history scan is to
scan every blob any ref reaches exactly once, under the path where the history first shows
it (``git rev-list --objects --all``: its file name keeps the scanner's file-type filters
working). Each blob goes to ``ROOT/<blob id>/<path>`` so that versions of one path do not
collide, and :func:`original_path` maps a reported file name back. Commit and tag messages
are not blobs: such a scanner cannot see them. Blobs larger than :data:`MAX_BLOB` bytes are
left out (none of the benchmark repositories' findings sit in one).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path, PurePosixPath

MAX_BLOB = 8 * 1024 * 1024


def blob_paths(repo: Path) -> dict[str, str]:
    """Blob id → the first path the history shows it at, for every blob reachable from any ref."""
    listed = subprocess.run(["git", "-C", str(repo), "rev-list", "--objects", "--all"], capture_output=True,
                            check=True).stdout.decode("utf-8", "surrogateescape")
    named = {}
    for line in listed.splitlines():
        sha, _, path = line.partition(" ")
        if path and sha not in named:
            named[sha] = path
    check = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-check=%(objectname) %(objecttype) "
                            "%(objectsize)"], input="".join(s + "\n" for s in named).encode(),
                           capture_output=True, check=True).stdout.decode()
    blobs = {}
    for row in check.splitlines():
        sha, kind, size = row.split()
        if kind == "blob" and int(size) <= MAX_BLOB:
            blobs[sha] = named[sha]
    return blobs


def _safe(path: str) -> PurePosixPath | None:
    """``path`` as a relative path that stays inside the output directory, or None."""
    p = PurePosixPath(path)
    if p.is_absolute() or not p.parts or any(part in ("..", ".", "") for part in p.parts):
        return None
    return p


def write_blobs(repo: Path, root: Path) -> int:
    """Write every unique blob of ``repo``'s history under ``root``; return how many were written."""
    blobs = blob_paths(repo)
    order = sorted(blobs)
    proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # from a thread: git writes while it reads, and a full pipe would block both
        stdin.write("".join(s + "\n" for s in order).encode())
        stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    written = 0
    for sha in order:
        header = proc.stdout.readline().split()
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)  # the newline after each object
        rel = _safe(blobs[sha])
        if rel is None:
            continue
        target = root / sha / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    feeder.join()
    proc.wait()
    return written


def original_path(reported: str) -> str:
    """``<blob id>/<path>`` (as written by :func:`write_blobs`, relative to its root) → ``<path>``."""
    return reported.replace("\\", "/").removeprefix("./").partition("/")[2]
