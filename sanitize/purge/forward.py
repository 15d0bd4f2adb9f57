"""After the push, collaborators build on the rewritten history: that is the point, not a problem.

A ref on the remote that differs from its rewritten tip is *forward* when the
rewritten tip is its ancestor and none of the commits added since is an old
(pre-rewrite) commit; a ref created after the push is forward when it is built
on the rewritten history the same way. Anything else moved "from anywhere
else" (old history pushed back, a branch reset elsewhere, a rewritten ref
deleted) and stays a mismatch. The pre-receive guard accepts exactly the
forward pushes, so push --gc-remote, verify and status must not refuse them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sanitize import git


@dataclass(frozen=True)
class RefCheck:
    """Each remote ref that is not its rewritten tip: moved forward (fine) or mismatched (with both ids)."""

    forward: dict[str, str] = field(default_factory=dict)
    mismatched: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


def _descends(repo: Path, ancestor: str, tip: str) -> bool:
    return git.run(["merge-base", "--is-ancestor", ancestor, tip], cwd=repo, check=False).returncode == 0


def _adds_old(repo: Path, tip: str, rewritten: list[str], old: set[str]) -> bool | None:
    """Whether ``tip`` brings any old commit on top of the rewritten tips; None if its history is not here."""
    proc = git.run(["rev-list", tip, "--not", *rewritten], cwd=repo, check=False)
    if proc.returncode != 0:
        return None
    return bool(set(proc.stdout.decode().split()) & old)


def classify(repo: Path, got: dict[str, str], tips: dict[str, str], old_commits: set[str],
             skip: frozenset[str] = frozenset()) -> RefCheck:
    """Compare the remote's refs ``got`` (their objects in ``repo``) with the rewritten ``tips``."""
    forward: dict[str, str] = {}
    mismatched: dict[str, tuple[str | None, str | None]] = {}
    rewritten = sorted(set(tips.values()))
    for ref in sorted(set(got) | set(tips)):
        have, want = got.get(ref), tips.get(ref)
        if have == want or ref in skip:
            continue
        ok = False
        if have is not None and _adds_old(repo, have, rewritten, old_commits) is False:
            if want is not None:
                ok = _descends(repo, want, have)
            else:  # created after the push: fine when built on the rewritten history
                ok = any(git.run(["merge-base", have, t], cwd=repo, check=False).returncode == 0 for t in rewritten)
        if ok and have is not None:
            forward[ref] = have
        else:
            mismatched[ref] = (have, want)
    return RefCheck(forward, mismatched)


def classify_remote(mirror: Path, remote: str | git.Location, got: dict[str, str], tips: dict[str, str],
                    old_commits: set[str], scratch_in: Path, skip: frozenset[str] = frozenset()) -> RefCheck:
    """As :func:`classify` for a remote: the refs that differ are fetched into a scratch repository that
    borrows the mirror's objects, so only what collaborators added comes over the wire."""
    refs = sorted(r for r in got if got[r] != tips.get(r) and r not in skip)
    with tempfile.TemporaryDirectory(prefix="forward-", dir=scratch_in) as tmp:
        repo = Path(tmp) / "check.git"
        git.run(["init", "--quiet", "--bare", str(repo)])
        (repo / "objects" / "info" / "alternates").write_text(str((mirror / "objects").resolve()) + "\n")
        specs = [f"+{r}:refs/check/{n}" for n, r in enumerate(refs)]
        if specs:
            git.run(["fetch", "--quiet", "--no-tags", remote, *specs], cwd=repo, check=False)
        return classify(repo, got, tips, old_commits, skip)


def pushed_with_forward_moves(mirror: Path, remote: str | git.Location, now: dict[str, str], new: dict[str, str | None],
                              lease: dict[str, str | None], old_commits: set[str],
                              scratch_in: Path) -> dict[str, str] | None:
    """After our push, the refs collaborators moved forward (``{}``: none); None if the push has not happened
    (or the remote moved elsewhere). ``new``/``lease``: each pushed ref's rewritten tip (None: deleted) and tip at
    scan; ``now``: what the remote advertises (host-managed refs already left out)."""
    if all(now.get(ref) == want for ref, want in new.items()):
        return {}
    if any(now.get(ref) == lease.get(ref) != want for ref, want in new.items()):
        return None  # still the history seen at scan: not pushed yet
    tips = {ref: want for ref, want in new.items() if want is not None}
    check = classify_remote(mirror, remote, now, tips, old_commits, scratch_in)
    return None if check.mismatched else check.forward
