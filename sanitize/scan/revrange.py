"""Which commits a partial scan reads: ``scan --range A..B``, ``--since REV``, ``--pre-push``, the guard.

A full scan walks every ref. Prevention only needs what is *new*: the commits a
push adds, or those after a known-good revision. Each selection is a set of
``git rev-list`` arguments (positive tips, then ``--not`` and what the other
side already has) plus the tips to name in the report. Every endpoint is
resolved to a commit id first, so nothing a user or a hook passes reaches
git's command line as an option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sanitize import git
from sanitize.errors import UsageError
from sanitize.scan.history import RefInfo

_ZERO = re.compile(r"^0+$")
# Host-managed refs may still point into a purged history; new content is what they do not hold either.
GUARD_EXCLUDES = ("--exclude=refs/pull/*", "--exclude=refs/merge-requests/*")


@dataclass(frozen=True)
class RevRange:
    """rev-list arguments selecting the commits to scan, and the tips the report names."""

    revs: tuple[str, ...]
    tips: tuple[RefInfo, ...]
    label: str

    @property
    def empty(self) -> bool:
        """True when nothing is selected (a push of deletions only)."""
        return not self.revs


def resolve_commit(repo: Path, rev: str, what: str = "revision") -> str:
    """The commit id ``rev`` names; UsageError (one line) if it names none or looks like an option."""
    if not rev or rev.startswith("-") or any(c.isspace() or c == "\0" for c in rev):
        raise UsageError(f"{what} {rev[:80]!r} is not a revision")
    proc = git.run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], cwd=repo,
                   check=False)
    if proc.returncode != 0:
        raise UsageError(f"{what} {rev[:80]!r}: no such commit in {repo}")
    return proc.stdout.decode("ascii").strip()


def parse_range(repo: Path, spec: str) -> RevRange:
    """``A..B``: the commits reachable from B and not from A (``git log A..B``)."""
    base, sep, tip = spec.partition("..")
    if not sep or not base or not tip or tip.startswith("."):
        raise UsageError(f"--range {spec[:80]!r}: expected A..B (two revisions)")
    old = resolve_commit(repo, base, "--range start")
    new = resolve_commit(repo, tip, "--range end")
    return RevRange(revs=(new, "--not", old), tips=(RefInfo(tip, new, new),), label=spec)


def since(repo: Path, rev: str) -> RevRange:
    """``REV..HEAD``: what was committed after REV."""
    old = resolve_commit(repo, rev, "--since")
    head = resolve_commit(repo, "HEAD", "HEAD")
    return RevRange(revs=(head, "--not", old), tips=(RefInfo("HEAD", head, head),), label=f"{rev}..HEAD")


def pushed(repo: Path, environ: Mapping[str, str], stdin_text: str | None) -> RevRange:
    """The commits a ``git push`` is about to send, from a pre-push hook's context.

    Under the pre-commit framework: ``PRE_COMMIT_FROM_REF``/``PRE_COMMIT_TO_REF``
    (an existing branch), or only ``PRE_COMMIT_LOCAL_BRANCH`` when the push
    carries the root commit (then everything not on any remote-tracking ref of
    ``PRE_COMMIT_REMOTE_NAME`` is new). As a plain git hook: git's stdin lines
    ``<local ref> <local sha> <remote ref> <remote sha>``; a remote sha this
    clone does not have counts as nothing (the whole unpushed history is scanned).
    The framework passes only the first pushed ref that sends anything; a push of
    several branches at once is fully checked by the plain git hook, which sees every line.
    """
    to_ref, from_ref = environ.get("PRE_COMMIT_TO_REF"), environ.get("PRE_COMMIT_FROM_REF")
    local = environ.get("PRE_COMMIT_LOCAL_BRANCH")
    if to_ref and from_ref:
        new = resolve_commit(repo, to_ref, "PRE_COMMIT_TO_REF")
        old = resolve_commit(repo, from_ref, "PRE_COMMIT_FROM_REF")
        return RevRange(revs=(new, "--not", old), tips=(RefInfo(local or to_ref, new, new),),
                        label=f"{from_ref[:12]}..{to_ref[:12]}")
    if local:
        new = resolve_commit(repo, local, "PRE_COMMIT_LOCAL_BRANCH")
        return RevRange(revs=(new, "--not", *_remote_tracking(environ.get("PRE_COMMIT_REMOTE_NAME"))),
                        tips=(RefInfo(local, new, new),), label=f"{local} (not on the remote)")
    if stdin_text is None:
        raise UsageError("--pre-push: no PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF and no pre-push lines on stdin "
                         "(run it from a pre-push hook, or use --range A..B)")
    return _from_hook_lines(repo, stdin_text)


def _remote_tracking(remote: str | None) -> tuple[str, ...]:
    if remote and re.fullmatch(r"[A-Za-z0-9._/-]+", remote) and not remote.startswith("-"):
        return (f"--remotes={remote}",)
    return ("--remotes",)  # a URL push (no remote name): whatever any remote-tracking ref already holds


def _from_hook_lines(repo: Path, text: str) -> RevRange:
    tips: list[RefInfo] = []
    have: list[str] = []
    for raw in git.lines(text):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise UsageError(f"--pre-push: unexpected stdin line {raw[:80]!r} (expected git's pre-push lines)")
        local_ref, local_sha, remote_ref, remote_sha = parts
        if _ZERO.match(local_sha):
            continue  # a deletion sends nothing
        new = resolve_commit(repo, local_sha, "pushed commit")
        # Named as the remote will have it: a name holding a secret is refused like any content (scan/names.py).
        tips.append(RefInfo(remote_ref if remote_ref.startswith("refs/") else local_ref, new, new))
        if not _ZERO.match(remote_sha):
            proc = git.run(["cat-file", "-e", "--end-of-options", f"{remote_sha}^{{commit}}"], cwd=repo,
                           check=False)
            if proc.returncode == 0 and not remote_sha.startswith("-"):
                have.append(remote_sha)
    if not tips:
        return RevRange(revs=(), tips=(), label="nothing to push")
    revs = (*(t.target for t in tips), "--not", *have, "--remotes")
    return RevRange(revs=revs, tips=tuple(tips), label=", ".join(t.name for t in tips))


def pushed_to_server(repo: Path, updates: Sequence[tuple[str, str, str]]) -> RevRange:
    """The objects a push brings to a server (pre-receive): each new tip, minus everything any ref holds."""
    tips: list[RefInfo] = []
    for _old, new, ref in updates:
        if _ZERO.match(new):
            continue
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", new):
            raise UsageError(f"pushed {ref[:80]!r}: {new[:80]!r} is not an object id")
        try:
            commit: str | None = resolve_commit(repo, new, f"pushed {ref[:80]}")
        except UsageError:
            commit = None  # a tag of a tree or blob: its objects are still listed and read
        tips.append(RefInfo(ref, new, commit))
    if not tips:
        return RevRange(revs=(), tips=(), label="deletions only")
    revs = (*(t.target for t in tips), "--not", *GUARD_EXCLUDES, "--all")
    return RevRange(revs=revs, tips=tuple(tips), label=", ".join(t.name for t in tips))
