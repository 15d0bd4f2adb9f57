"""Collaborator side: carry unpushed local commits from the old history onto the rewritten one.

Run inside an existing clone after ``git fetch`` has brought the rewritten
history. For each local branch still on old history, the published
commit-map (old → new commit ids, git-filter-repo's format) gives the new
base of the branch's unpushed commits; ``git rebase --onto <new base> <old
base> <branch>`` moves them, after a backup ref
``refs/sanitize-backup/<branch>`` records the old tip. A branch without local
work simply moves to its rewritten tip.

Before anything moves, every branch's local commits are checked against the
published purge list (``purged.json``: removed paths, blob ids and the SHA-256
of removed values): local work that re-adds any of them is refused (exit 2)
and nothing moves. Merges of old history into new are refused too.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sanitize import git
from sanitize.errors import GitError, UsageError
from sanitize.secret import sha256_hex

BACKUP_PREFIX = "refs/sanitize-backup/"
_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# Candidate values in an added line, at three granularities: a removed value may
# itself contain '/', '+', '=' or '@' (base64 keys, passwords), or sit inside a DSN.
_SPLITS = (re.compile(r"[\s\"'`]+"), re.compile(r"[\s\"'`=:,;()\[\]{}<>|&]+"),
           re.compile(r"[\s\"'`=:,;@/()\[\]{}<>|&?#\\]+"))


@dataclass(frozen=True)
class Purged:
    """What the purge removed, as published for collaborators (no values, only hashes)."""

    paths: frozenset[str] = frozenset()
    blobs: frozenset[str] = frozenset()
    secret_sha256: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BranchMove:
    """One branch carried over: from ``old_tip`` to ``new_tip``, ``commits`` local commits rebased."""

    branch: str
    old_tip: str
    new_tip: str
    old_base: str
    new_base: str
    commits: int
    backup_ref: str


@dataclass(frozen=True)
class MigrateResult:
    """Branches moved, and branches left alone with the reason."""

    moved: list[BranchMove]
    skipped: dict[str, str] = field(default_factory=dict)
    checked_purged: bool = False


def _read_source(source: str) -> bytes:
    if source.startswith(("http://", "https://", "file://")):
        try:
            with urllib.request.urlopen(source, timeout=30) as resp:  # noqa: S310 - scheme checked above
                return bytes(resp.read())
        except OSError as exc:
            raise UsageError(f"{source}: cannot download ({type(exc).__name__})") from exc
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read ({exc.strerror or type(exc).__name__})") from exc


def load_commit_map(source: str) -> dict[str, str]:
    """git-filter-repo's commit-map (``old new`` per line after a header); UsageError if malformed."""
    result: dict[str, str] = {}
    for n, line in enumerate(_read_source(source).decode("utf-8", "replace").splitlines(), 1):
        parts = line.split()
        if not parts or parts == ["old", "new"]:
            continue
        if len(parts) != 2 or not (_OID.match(parts[0]) and _OID.match(parts[1])):
            raise UsageError(f"{source}:{n}: not a commit-map line (expected 'old-id new-id')")
        result[parts[0]] = parts[1]
    if not result:
        raise UsageError(f"{source}: empty commit-map")
    return result


def load_purged(source: str) -> Purged:
    """The published ``purged.json`` (paths, blobs, secret_sha256); UsageError if malformed."""
    try:
        data = json.loads(_read_source(source))
        return Purged(paths=frozenset(map(str, data.get("paths") or [])),
                      blobs=frozenset(map(str, data.get("blobs") or [])),
                      secret_sha256=frozenset(map(str, data.get("secret_sha256") or [])))
    except (ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"{source}: not a purged.json from git-sanitize notify") from exc


def candidate_hashes(line: str) -> set[str]:
    """SHA-256 of every plausible value in one line of text."""
    pieces: set[str] = set()
    for split in _SPLITS:
        pieces.update(p for p in split.split(line) if len(p) >= 4)
    pieces.update(p.rstrip(".,;") for p in list(pieces))
    return {sha256_hex(p) for p in pieces}


def _zero(oid: str) -> bool:
    return set(oid) == {"0"}


def _new_base(old: str, cmap: dict[str, str], repo: Path) -> str:
    """The rewritten counterpart of ``old``; for a commit filter-repo dropped, its nearest kept ancestor's."""
    for sha in git.out(["rev-list", "--first-parent", old], cwd=repo).splitlines():
        new = cmap.get(sha)
        if new and not _zero(new):
            return new
    raise UsageError(f"no rewritten counterpart for {old[:12]} in the commit-map")


def _contamination(repo: Path, tip: str, base: str, purged: Purged) -> str | None:
    """Why the commits base..tip re-add purged content, or None."""
    names = git.out(["log", "--format=", "--name-only", "--no-renames", "--diff-filter=AMRC", tip, "--not", base],
                    cwd=repo).splitlines()
    hit = sorted({n for n in names if n in purged.paths})
    if hit:
        return f"re-adds the removed file {hit[0]}"
    objects = {line.split(" ", 1)[0] for line in git.out(["rev-list", "--objects", tip, "--not", base],
                                                          cwd=repo).splitlines()}
    if objects & purged.blobs:
        return "re-adds a removed file's exact content"
    if purged.secret_sha256:
        text = git.out(["log", "-p", "--no-color", "--format=%B", tip, "--not", base], cwd=repo)
        for line in text.splitlines():
            if line.startswith(("---", "+++", "-", " ", "@@", "diff ", "index ")):
                continue
            if candidate_hashes(line) & purged.secret_sha256:
                return "re-adds a value the purge removed (in a change or a commit message)"
    return None


def _plan_branch(repo: Path, branch: str, cmap: dict[str, str], changed: set[str],
                 values: set[str], purged: Purged | None) -> tuple[BranchMove | None, str]:
    tip = git.out(["rev-parse", f"refs/heads/{branch}"], cwd=repo)
    history = git.out(["rev-list", "--parents", tip], cwd=repo).splitlines()
    parents = {line.split()[0]: line.split()[1:] for line in history}
    if not changed & parents.keys():
        return None, "not on the old history"
    if values & parents.keys():
        raise UsageError(f"branch {branch} merges old history into rewritten history; rebase it by hand "
                         "(never merge old history), nothing was moved")
    local = [c for c in parents if c not in cmap]
    backup = BACKUP_PREFIX + branch
    if not local:
        new = _new_base(tip, cmap, repo)
        return BranchMove(branch, tip, new, tip, new, 0, backup), ""
    boundary = {p for c in local for p in parents[c] if p not in local}
    if len(boundary) != 1:
        raise UsageError(f"branch {branch}: local work sits on {len(boundary)} old commits (a merge); rebase it "
                         "by hand onto the rewritten history, nothing was moved")
    old_base = boundary.pop()
    if purged is not None:
        why = _contamination(repo, tip, old_base, purged)
        if why:
            raise UsageError(f"branch {branch}: local work {why}; remove it from those commits "
                             "(git rebase -i), then run migrate again. Nothing was moved")
    new_base = _new_base(old_base, cmap, repo)
    return BranchMove(branch, tip, "", old_base, new_base, len(local), backup), ""


def migrate(repo: str | os.PathLike[str] = ".", *, commit_map: str, purged: str | None = None) -> MigrateResult:
    """Move every local branch on old history onto the rewritten history, local commits rebased.

    UsageError (exit 2), with nothing moved, when the tree is dirty, the
    rewritten history has not been fetched, or local work re-adds purged content.
    """
    root = git.git_dir(repo)
    work = Path(git.out(["rev-parse", "--show-toplevel"], cwd=repo, check=False) or repo)
    cmap = load_commit_map(commit_map)
    purge_list = load_purged(purged) if purged else _sibling_purged(commit_map)
    if git.out(["status", "--porcelain", "--untracked-files=no"], cwd=work):
        raise UsageError("uncommitted changes in this clone: commit or stash them first (nothing was moved)")
    if git.run(["rev-parse", "-q", "--verify", "REBASE_HEAD"], cwd=work, check=False).returncode == 0:
        raise UsageError("a rebase is in progress: finish or abort it first (nothing was moved)")
    changed = {o for o, n in cmap.items() if o != n}
    values = {n for o, n in cmap.items() if o != n and not _zero(n)}
    branches = git.out(["for-each-ref", "--format=%(refname:short)", "refs/heads/"], cwd=root).splitlines()
    plans: list[BranchMove] = []
    skipped: dict[str, str] = {}
    for branch in branches:
        move, reason = _plan_branch(Path(work), branch, cmap, changed, values, purge_list)
        if move is None:
            skipped[branch] = reason
        else:
            plans.append(move)
    for move in plans:
        if git.run(["cat-file", "-e", f"{move.new_base}^{{commit}}"], cwd=work, check=False).returncode != 0:
            raise UsageError(f"the rewritten history is not here ({move.new_base[:12]} missing): run "
                             "git fetch origin first (nothing was moved)")

    head = git.out(["symbolic-ref", "-q", "--short", "HEAD"], cwd=work, check=False)
    head_sha = git.out(["rev-parse", "HEAD"], cwd=work)
    done: list[BranchMove] = []
    try:
        for move in plans:
            backup = _free_backup_ref(work, move.backup_ref)
            git.run(["update-ref", backup, move.old_tip], cwd=work)
            if move.commits == 0:
                current = git.out(["symbolic-ref", "-q", "--short", "HEAD"], cwd=work, check=False)
                if move.branch == current:
                    git.run(["reset", "--quiet", "--keep", move.new_base], cwd=work)
                else:
                    git.run(["update-ref", f"refs/heads/{move.branch}", move.new_base, move.old_tip], cwd=work)
                new_tip = move.new_base
            else:
                proc = git.run(["rebase", "--quiet", "--onto", move.new_base, move.old_base, move.branch],
                               cwd=work, check=False)
                if proc.returncode != 0:
                    git.run(["rebase", "--abort"], cwd=work, check=False)
                    raise UsageError(f"branch {move.branch}: the rebase stopped on a conflict; every branch was put "
                                     f"back (old tip kept in {backup}). Rebase it by hand onto {move.new_base[:12]}")
                new_tip = git.out(["rev-parse", f"refs/heads/{move.branch}"], cwd=work)
            done.append(BranchMove(move.branch, move.old_tip, new_tip, move.old_base, move.new_base,
                                   move.commits, backup))
    except (UsageError, GitError):
        for m in done:
            git.run(["update-ref", f"refs/heads/{m.branch}", m.old_tip], cwd=work, check=False)
        _return_to(work, head, head_sha, force=True)
        raise
    _return_to(work, head, head_sha, force=False)
    return MigrateResult(done, skipped, checked_purged=purge_list is not None)


def _sibling_purged(commit_map: str) -> Purged | None:
    """``purged.json`` published beside the commit-map (notify writes both), if there is one."""
    if "://" in commit_map:
        try:
            return load_purged(commit_map.rsplit("/", 1)[0] + "/purged.json")
        except UsageError:
            return None
    sibling = Path(commit_map).parent / "purged.json"
    return load_purged(str(sibling)) if sibling.is_file() else None


def _free_backup_ref(work: Path, ref: str) -> str:
    candidate, n = ref, 1
    while git.run(["rev-parse", "-q", "--verify", candidate], cwd=work, check=False).returncode == 0:
        n += 1
        candidate = f"{ref}-{n}"
    return candidate


def _return_to(work: Path, head: str, head_sha: str, *, force: bool) -> None:
    flags = ["-f"] if force else []
    target = head if head else head_sha
    git.run(["checkout", "--quiet", *flags, target], cwd=work, check=False)
