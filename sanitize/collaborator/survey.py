"""What in a clone is on the old history, checked before anything moves.

Local branches (stacked ones after the branch they sit on), each branch's
local commits checked against the purge list, local tags, and the local
names that hold a published value. Anything refused here (a merge of old
history into new, local work that re-adds purged content, a taken new name)
raises UsageError with nothing moved.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanitize import git
from sanitize.collaborator.clone import Clone, rewritten_base
from sanitize.collaborator.contamination import commit_contamination
from sanitize.collaborator.stashes import check_stash, stash_entries
from sanitize.errors import UsageError


@dataclass
class BranchPlan:
    """One local branch to move: its tip, its own local commits and the commit they sit on."""

    name: str
    tip: str
    local: list[str]          # local commits of this branch not carried by another branch, oldest first
    base: str                 # the one commit those sit on (old history, or another branch's local commit)


def plan_branches(c: Clone) -> tuple[list[BranchPlan], dict[str, str]]:
    """Branches to move, stacked ones after the branch they sit on; and the branches left alone."""
    published = c.published()
    found: list[tuple[str, str, list[str], dict[str, list[str]]]] = []
    skipped: dict[str, str] = {}
    for name in git.lines(c.out("for-each-ref", "--format=%(refname:short)", "refs/heads/")):
        tip = c.out("rev-parse", f"refs/heads/{name}^{{commit}}")
        history = git.lines(c.out("rev-list", "--parents", "--topo-order", "--reverse", tip))
        parents = {line.split()[0]: line.split()[1:] for line in history}
        if not c.changed & parents.keys():
            skipped[name] = "not on the old history"
            continue
        if c.values & parents.keys():
            raise UsageError(f"branch {c.show(name)} merges old history into rewritten history; rebase it by hand "
                             "(never merge old history), nothing was moved")
        unpublished = set(c.out("rev-list", tip, "--not", *published).split()) if published else set(parents)
        old = _old_history(parents, c.changed)
        local = [x for x in parents if x in unpublished and x not in c.cmap and x not in old]
        found.append((name, tip, local, parents))
    found.sort(key=lambda f: len(f[2]))
    plans: list[BranchPlan] = []
    carried: set[str] = set()
    for name, tip, local, parents in found:
        mine = [x for x in local if x not in carried]
        if not mine:
            plans.append(BranchPlan(name, tip, [], tip))
            continue
        boundary = {p for x in mine for p in parents[x] if p not in mine}
        if len(boundary) != 1:
            raise UsageError(f"branch {c.show(name)}: local work sits on {len(boundary)} commits (a merge); rebase "
                             "it by hand onto the rewritten history (git rebase --onto), nothing was moved")
        if c.purged is not None:
            for commit in mine:
                why = commit_contamination(c.work, commit, c.purged)
                if why:
                    raise c.refuse(f"branch {name}", commit, why)
        plans.append(BranchPlan(name, tip, mine, boundary.pop()))
        carried.update(mine)
    return plans, skipped


def _old_history(parents: dict[str, list[str]], changed: set[str]) -> set[str]:
    """The changed commits of one branch's history and all their ancestors: the old history it holds.

    The published map lists only the commits the rewrite changed; an unchanged ancestor of one of them
    was on the old remote as well, even where no fetched branch holds it now (a pull-request ref, a
    deleted branch), so it is not local work.
    """
    seen: set[str] = set()
    todo = [x for x in parents if x in changed]
    while todo:
        x = todo.pop()
        if x in seen:
            continue
        seen.add(x)
        todo.extend(p for p in parents.get(x, ()) if p not in seen)
    return seen


def plan_tags(c: Clone) -> list[tuple[str, str, str, str]]:
    """(tag ref, tag object, object type, commit) for every local tag on a commit."""
    fmt = "%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)"
    found = []
    for line in git.lines(c.out("for-each-ref", f"--format={fmt}", "refs/tags/")):
        ref, obj, kind, peeled = line.split("\x00")
        commit = peeled if kind == "tag" else obj
        if commit:
            found.append((ref, obj, kind, commit))
    return found


def planned_renames(c: Clone) -> dict[str, str]:
    """Local branch and tag → its new name, for every one whose name holds a published value.

    UsageError, before anything moves, when a branch's new name is taken by another local branch. A tag
    whose new name the fetch already brought is only deleted (the server's copy replaces it)."""
    if not c.names:
        return {}
    out: dict[str, str] = {}
    taken = set(git.lines(c.out("for-each-ref", "--format=%(refname)", "refs/heads/", "refs/tags/")))
    for ref in sorted(taken):
        new = c.names.rename(ref)
        if new == ref:
            continue
        if new in taken and ref.startswith("refs/heads/"):
            raise UsageError(f"branch {c.show(ref.removeprefix('refs/heads/'))}: its new name "
                             f"{new.removeprefix('refs/heads/')} is already a local branch; delete or rename that "
                             "one (git branch -m), then run migrate again. Nothing was moved")
        out[ref] = new
    return out


@dataclass
class Survey:
    """Everything migrate moves, found and checked before anything moves."""

    plans: list[BranchPlan]
    skipped: dict[str, str]  # branch (and, once tags move, tag ref) -> why it was left alone
    head: str  # the branch checked out ("" when HEAD is detached)
    head_sha: str  # HEAD's commit ("" in a clone with no commit)
    stashes: list[tuple[str, str]]  # (commit, message) of every stash entry, stash@{0} first
    dirty: str  # the uncommitted changes as a stash commit ("" for none, or when nothing moves)
    tags: list[tuple[str, str, str, str]]  # (tag ref, tag object, object type, commit)
    renames: dict[str, str]  # local branch or tag ref whose name holds a value -> its new name


def survey(c: Clone) -> Survey:
    """What migrate will move; UsageError, with nothing moved, when a rebase is in progress, rebasing needs a
    committer identity git does not have, the rewritten history is not fetched, or local work (commits,
    stashes, uncommitted changes) re-adds purged content."""
    if c.run("rev-parse", "-q", "--verify", "REBASE_HEAD", check=False) == 0 or (c.root / "rebase-merge").exists():
        raise UsageError("a rebase is in progress: finish or abort it first (nothing was moved)")
    plans, skipped = plan_branches(c)
    if any(p.local for p in plans) and c.run("var", "GIT_COMMITTER_IDENT", check=False) != 0:
        raise UsageError("git does not know who you are in this clone, and rebasing your unpushed commits "
                         "records you as their committer: git config user.name '<your name>' && git config "
                         "user.email '<your email>', then run migrate again (nothing was moved)")
    for p in plans:
        if p.local and p.base not in {x for q in plans for x in q.local}:
            new_base = rewritten_base(p.base, c.cmap, c.work)
            if c.run("cat-file", "-e", f"{new_base}^{{commit}}", check=False) != 0:
                raise UsageError(f"the rewritten history is not here ({new_base[:12]} missing): run "
                                 "git fetch origin first (nothing was moved)")
    head = c.out("symbolic-ref", "-q", "--short", "HEAD", check=False)
    head_sha = c.out("rev-parse", "-q", "--verify", "HEAD", check=False)
    moving = c.changed | {x for p in plans for x in p.local} | {p.tip for p in plans}
    stashes = stash_entries(c)
    for n, (sha, _msg) in enumerate(stashes):
        if c.out("rev-parse", f"{sha}^1") in moving:
            check_stash(c, f"stash@{{{n}}}", sha)
    # The work tree only has to be set aside when branches move (or HEAD itself is on old history).
    dirty = ""
    if plans or head_sha in moving:
        dirty = c.out("stash", "create", f"git-sanitize migrate: uncommitted changes on {head or 'HEAD'}")
    if dirty:
        check_stash(c, "your uncommitted changes", dirty)
    return Survey(plans=plans, skipped=skipped, head=head, head_sha=head_sha, stashes=stashes, dirty=dirty,
                  tags=plan_tags(c), renames=planned_renames(c))
