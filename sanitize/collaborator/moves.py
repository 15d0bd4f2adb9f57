"""Moving a clone's refs onto the rewritten history: branches (rebased), tags, and renamed names.

Every old tip is kept under ``refs/sanitize-backup/`` first; migrate puts
every branch back if a move fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanitize import git
from sanitize.collaborator.clone import BACKUP_PREFIX, Clone, counterpart, free_backup_ref, rewritten_base
from sanitize.collaborator.survey import BranchPlan
from sanitize.errors import UsageError
from sanitize.shellquote import quote


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
class TagMove:
    """A local tag re-pointed at the rewritten counterpart of its commit."""

    tag: str
    old: str
    new: str
    backup_ref: str


def move_branch(c: Clone, p: BranchPlan, local_map: dict[str, str], backups: list[tuple[str, str | None]]
                ) -> BranchMove:
    """Back up the branch's tip, then move it: to its rewritten tip, or its local commits rebased onto the
    rewritten counterpart of their base. ``local_map`` learns where each local commit went, ``backups`` what to
    put back if a later move fails. UsageError (rebase aborted) when the rebase stops."""
    backup = free_backup_ref(c.work, BACKUP_PREFIX + "heads/" + c.names.rename(p.name))
    c.run("update-ref", backup, p.tip)
    backups.append((f"refs/heads/{p.name}", p.tip))
    if not p.local:
        new_tip = counterpart(c, p.tip, local_map)
        c.run("update-ref", f"refs/heads/{p.name}", new_tip, p.tip)
        return BranchMove(p.name, p.tip, new_tip, p.tip, new_tip, 0, backup)
    new_base = counterpart(c, p.base, local_map)
    rebase = git.run(["rebase", "--quiet", "--empty=keep", "--keep-empty", "--onto", new_base, p.base,
                      p.name], cwd=c.work, check=False)
    if rebase.returncode != 0:
        conflict = bool(c.out("diff", "--name-only", "--diff-filter=U", check=False))
        c.run("rebase", "--abort", check=False)
        why = "stopped on a conflict" if conflict else \
            f"failed ({c.show(git.reason(rebase.stderr, rebase.returncode))})"
        raise UsageError(f"branch {c.show(p.name)}: the rebase {why}; every branch was put back (nothing "
                         f"was moved). Rebase it by hand: git rebase --onto {new_base[:12]} "
                         f"{p.base[:12]} {quote(c.names.show(p.name))}")
    new_tip = c.out("rev-parse", f"refs/heads/{p.name}")
    rebased = c.out("rev-list", "--reverse", "--topo-order", new_tip, "--not", new_base).split()
    if len(rebased) == len(p.local):
        local_map.update(zip(p.local, rebased, strict=True))
    local_map[p.tip] = new_tip
    return BranchMove(p.name, p.tip, new_tip, p.base, new_base, len(p.local), backup)

def move_tags(c: Clone, tags: list[tuple[str, str, str, str]], local_map: dict[str, str],
               skipped: dict[str, str]) -> list[TagMove]:
    """Re-point every local tag on old history at its commit's counterpart (an annotated tag is made again,
    without its signature); a tag whose counterpart is not fetched goes to ``skipped`` with the fetch to run."""
    moves = []
    for ref, obj, kind, commit in tags:
        if commit in local_map:
            new_commit = local_map[commit]
        elif commit in c.changed:
            new_commit = rewritten_base(commit, c.cmap, c.work)
        else:
            continue
        if c.run("cat-file", "-e", f"{new_commit}^{{commit}}", check=False) != 0:
            skipped[ref] = (f"its rewritten commit {new_commit[:12]} is not fetched: git fetch origin --force "
                            "'+refs/tags/*:refs/tags/*', then run migrate again")
            continue
        if kind == "tag":
            body = git.run(["cat-file", "tag", obj], cwd=c.work).stdout
            _, _, rest = body.partition(b"\n")
            text = b"object " + new_commit.encode() + b"\n" + rest
            for marker in (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SSH SIGNATURE-----"):
                text = text.split(marker, 1)[0]  # the signature covered the old object: it cannot survive
            new = git.out(["mktag"], cwd=c.work, input=text)
        else:
            new = new_commit
        backup = free_backup_ref(c.work, BACKUP_PREFIX + "tags/" + c.names.rename(ref.removeprefix("refs/tags/")))
        c.run("update-ref", backup, obj)
        c.run("update-ref", ref, new, obj)
        moves.append(TagMove(ref.removeprefix("refs/tags/"), obj, new, backup))
    return moves


def rename_refs(c: Clone, renames: dict[str, str]) -> dict[str, str]:
    """Give each local branch and tag its new name: the old name goes from refs, reflog and config.

    ``git branch -m`` carries the reflog and the ``branch.<name>.*`` config along; the upstream it
    tracks was renamed on the server too, so ``branch.<new>.merge`` follows. The old reflog entries
    that name the branch are expired by ``migrate --finish``. Returns each renamed tag → its object now."""
    retagged: dict[str, str] = {}
    for ref, new in renames.items():
        if ref.startswith("refs/heads/"):
            old_b, new_b = ref.removeprefix("refs/heads/"), new.removeprefix("refs/heads/")
            c.run("branch", "-m", "--", old_b, new_b)
            merge = c.out("config", "--get", f"branch.{new_b}.merge", check=False)
            if merge and c.names.holds(merge):
                c.run("config", f"branch.{new_b}.merge", c.names.rename(merge))
        elif c.run("rev-parse", "-q", "--verify", new, check=False) == 0:
            c.run("update-ref", "-d", ref)  # the fetch brought the server's renamed tag
            retagged[new] = c.out("rev-parse", new)
        else:
            retagged[new] = _renamed_tag_object(c, ref, new)
            c.run("update-ref", new, retagged[new])
            c.run("update-ref", "-d", ref)
    return retagged


def repoint_remote_heads(c: Clone) -> None:
    """``refs/remotes/<remote>/HEAD`` names the server's default branch as it was at clone time; a fetch
    never updates it. When that name held a value, point it at the renamed branch the fetch brought (or
    drop it if there is none: ``git remote set-head <remote> --auto`` sets it again from the server)."""
    if not c.names:
        return
    # Not for-each-ref: once the fetch pruned the old branch, this symbolic ref dangles and it skips it.
    for remote in git.lines(c.out("remote")):
        ref = f"refs/remotes/{remote}/HEAD"
        target = c.out("symbolic-ref", "-q", ref, check=False)
        if not target or not c.names.holds(target):
            continue
        new = c.names.rename(target)
        if c.run("rev-parse", "-q", "--verify", new, check=False) == 0:
            c.run("symbolic-ref", ref, new)
        else:
            c.run("symbolic-ref", "--delete", ref)


def _renamed_tag_object(c: Clone, ref: str, new: str) -> str:
    """What the renamed tag points at: an annotated tag's object names its tag (and may say it in its
    message), so it is made again with the new name; a signature over the old text cannot survive."""
    obj = c.out("rev-parse", ref)
    if c.out("cat-file", "-t", obj) != "tag":
        return obj
    body = git.run(["cat-file", "tag", obj], cwd=c.work).stdout.decode("utf-8", "surrogateescape")
    head, _, message = body.partition("\n\n")
    lines = [f"tag {new.removeprefix('refs/tags/')}" if line.startswith("tag ") else line for line in head.split("\n")]
    for marker in ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN SSH SIGNATURE-----"):
        message = message.split(marker, 1)[0]
    text = "\n".join(lines) + "\n\n" + c.names.rename(message)
    return git.out(["mktag"], cwd=c.work, input=text.encode("utf-8", "surrogateescape"))
