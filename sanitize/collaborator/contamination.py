"""Local work that brings back what the purge removed: a removed path, a removed blob, or a removed value.

Values are matched by hash only: every plausible value in an added line is
hashed and compared with ``purged.json``'s SHA-256 list.
"""

from __future__ import annotations

import re
from pathlib import Path

from sanitize import git
from sanitize.collaborator.published import Purged
from sanitize.secret import sha256_hex

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# Candidate values in an added line, at three granularities: a removed value may
# itself contain '/', '+', '=' or '@' (base64 keys, passwords), or sit inside a DSN.
_SPLITS = (re.compile(r"[\s\"'`]+"), re.compile(r"[\s\"'`=:,;()\[\]{}<>|&]+"),
           re.compile(r"[\s\"'`=:,;@/()\[\]{}<>|&?#\\]+"))


def candidate_hashes(line: str) -> set[str]:
    """SHA-256 of every plausible value in one line of text."""
    pieces: set[str] = set()
    for split in _SPLITS:
        pieces.update(p for p in split.split(line) if len(p) >= 4)
    pieces.update(p.rstrip(".,;") for p in list(pieces))
    return {sha256_hex(p) for p in pieces}


def diff_contamination(repo: Path, old: str, new: str, purged: Purged) -> str | None:
    """What the change ``old`` → ``new`` (two commits or trees) brings back, naming the file; or None."""
    names = git.out(["diff", "--name-only", "-z", "--no-renames", "--diff-filter=AMRC", old, new],
                    cwd=repo).split("\x00")
    hit = sorted(n for n in names if n and n in purged.paths)
    if hit:
        return f"re-adds the removed file {hit[0]}"
    if purged.blobs:
        listing = git.out(["diff", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=AMRC", old, new],
                          cwd=repo).split("\x00")
        for meta, path in zip(listing[::2], listing[1::2], strict=False):
            fields = meta.split()
            if len(fields) >= 4 and fields[3] in purged.blobs:
                return f"re-adds the exact content of a removed file as {path}"
    if purged.secret_sha256:
        current = "?"
        text = git.out(["-c", "core.quotePath=false", "diff", "-p", "--no-color", "--no-renames", old, new],
                       cwd=repo)
        for line in git.lines(text):
            if line.startswith("+++ "):
                current = line[6:] if line.startswith("+++ b/") else line[4:]
            elif line.startswith("+") and candidate_hashes(line[1:]) & purged.secret_sha256:
                return f"re-adds a value the purge removed, in {current}"
    return None


def commit_contamination(repo: Path, commit: str, purged: Purged) -> str | None:
    """Why one local commit re-adds purged content (its change or its message), or None."""
    parents = git.out(["rev-list", "--parents", "-n1", commit], cwd=repo).split()[1:]
    why = diff_contamination(repo, parents[0] if parents else EMPTY_TREE, commit, purged)
    if why is None and purged.secret_sha256:
        message = git.out(["log", "-1", "--format=%B", commit], cwd=repo)
        if any(candidate_hashes(line) & purged.secret_sha256 for line in message.splitlines()):
            why = "re-adds a value the purge removed, in its commit message"
    return why
