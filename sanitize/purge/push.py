"""The force-push: one atomic push, every ref leased to the tip seen at scan.

Why each piece is there:

* ``--force-with-lease``, every ref leased to its tip at scan: if anyone pushed
  after the scan, their commits were never scanned nor rewritten; overwriting
  them would lose work, pushing around them would keep old history. Either way:
  stop. The refspecs and leases are not on the command line
  (:mod:`sanitize.git.leased_push`), so any number of refs fits in one push.
* ``--atomic``: a protected branch or a stale lease on one ref must not leave
  the remote half old, half new. All refs move, or none.
* Refs the host will not let anyone update (``refs/pull/*`` and friends) are
  left out of the push and listed for the support request instead.
* The gate: without enough valid approvals (same digest, same rewritten tips,
  not expired, distinct approvers) nothing is sent (exit 3).
"""

from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from sanitize import git, names
from sanitize.artifacts import rewrite_record
from sanitize.artifacts.rewrite_record import RewriteRecord
from sanitize.errors import AwaitingApproval, GitError, SanitizeError, UsageError
from sanitize.faults import fault_point
from sanitize.git import HIDDEN_PREFIXES, is_hidden, leased_push, resolve_remote  # noqa: F401 - once defined here
from sanitize.purge import remote_head
from sanitize.purge.approval import ApprovalPolicy, approve_command, approvers_of, judge, policy_of
from sanitize.purge.forward import pushed_with_forward_moves
from sanitize.purge.plan import load_plan
from sanitize.workdir import Workdir

_SCP = re.compile(r"^[^/:]+@[^/:]+:")


class PushRejected(SanitizeError):
    """The remote refused the atomic push; nothing changed there."""

    exit_code = 2


@dataclass(frozen=True)
class RefUpdate:
    """One ref's move: ``old`` is the tip seen at scan (the lease), None if the ref is new."""

    ref: str
    old: str | None
    new: str | None   # None: delete
    action: str       # "update" | "create" | "delete" | "unchanged"

    def line(self) -> str:
        """The dry-run line: action, ref, old → new (full ids)."""
        return f"{self.action:9} {self.ref} {self.old or '(none)'} -> {self.new or '(delete)'}"


@dataclass(frozen=True)
class PushResult:
    """What was (or, for a dry run, would be) sent."""

    remote: str
    updates: list[RefUpdate]
    hidden_refs: list[str]
    approvers: list[str]
    dry_run: bool = False
    already_pushed: bool = False
    gc_done: bool = False
    porcelain: list[str] = field(default_factory=list)
    forward_refs: list[str] = field(default_factory=list)   # moved on by collaborators after the push: fine
    tracking_refs: list[str] = field(default_factory=list)  # a scanned clone's refs/remotes/*: not pushed elsewhere
    stale_refs: list[str] = field(default_factory=list)     # dry run: refs the remote moved since the scan
    head_step: str | None = None  # dry run: the operator step the remote's HEAD needs before the real push
    head_moved: str | None = None  # the remote's HEAD was moved off this (shown) name to its new name

    @property
    def changed(self) -> list[RefUpdate]:
        """Updates that actually move or delete a ref."""
        return [u for u in self.updates if u.action != "unchanged"]


def local_path(remote: str | git.Location) -> Path | None:
    """The repository path of a path or ``file://`` remote; None for a network remote."""
    return git.Location.parse(remote).path


@dataclass(frozen=True)
class SshRemote:
    """A bare repository reached over ssh (``ssh://[user@]host[:port]/path`` or ``user@host:path``)."""

    host: str
    path: str
    port: str | None = None

    def gc(self) -> None:
        """Expire reflogs and prune there, over ssh (the operator's keys and ssh config apply)."""
        repo = shlex.quote(self.path)
        script = (f"git -C {repo} reflog expire --expire=now --expire-unreachable=now --all && "
                  f"git -C {repo} -c gc.pruneExpire=now gc --quiet --prune=now")
        cmd = [os.environ.get("GIT_SSH", "ssh"), "-o", "BatchMode=yes"]
        if self.port:
            cmd += ["-p", self.port]
        try:
            proc = git.run_program([*cmd, self.host, script], timeout=3600)
        except GitError as exc:
            raise PushRejected(f"pushed, but the remote gc over ssh failed ({exc}); run "
                               "'git reflog expire --expire=now --all && git gc --prune=now' there") from exc
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PushRejected(f"pushed, but the remote gc over ssh failed ({err[-1] if err else proc.returncode}); "
                               "run 'git reflog expire --expire=now --all && git gc --prune=now' there")


def ssh_remote(location: str | git.Location) -> SshRemote | None:
    """Parse an ssh remote; None for anything else."""
    remote = git.Location.parse(location).argument()  # ssh keeps its account name; no password is used
    if remote.startswith(("ssh://", "git+ssh://", "ssh+git://")):
        parsed = urllib.parse.urlsplit(remote)
        if not parsed.hostname:
            return None
        host = f"{parsed.username}@{parsed.hostname}" if parsed.username else parsed.hostname
        return SshRemote(host, urllib.parse.unquote(parsed.path), str(parsed.port) if parsed.port else None)
    if "://" not in remote and _SCP.match(remote):
        host, _, path = remote.partition(":")
        return SshRemote(host, path)
    return None


def tracking_left_out(record: RewriteRecord, target: git.Location) -> list[str]:
    """A scanned work clone's remote-tracking refs (``refs/remotes/*``, copies of another repository's
    branches): pushed back only into that clone; in any other repository they would be stray refs
    holding a second copy of the history, so they are left out (the clone's own branches are pushed)."""
    source = git.Location.restore(record.source) if record.source else None
    if source is not None and (source == target or (source.path is not None and target.path is not None
                                                    and source.path.resolve() == target.path.resolve())):
        return []
    refs = set(record.tips_at_scan) | set(record.rewritten_tips)
    return sorted(r for r in refs if r.startswith("refs/remotes/"))


def planned_updates(record: RewriteRecord, *, forge_refs: frozenset[str] | None = None
                    ) -> tuple[list[RefUpdate], list[str]]:
    """Every ref update the push will make, and the hidden refs it must leave out (see ``git.is_hidden``)."""
    at_scan = dict(record.tips_at_scan)
    tips = dict(record.rewritten_tips)
    deleted = set(record.deleted_refs) | (set(at_scan) - set(tips))
    updates: list[RefUpdate] = []
    hidden: list[str] = []
    for ref in sorted(set(at_scan) | set(tips)):
        if is_hidden(ref, forge_refs=forge_refs):
            hidden.append(ref)
            continue
        old = at_scan.get(ref)
        if ref in deleted:
            if old is not None:
                updates.append(RefUpdate(ref, old, None, "delete"))
            continue
        new = tips[ref]
        action = "create" if old is None else ("unchanged" if old == new else "update")
        updates.append(RefUpdate(ref, old, new, action))
    return updates, hidden


def _explain(rejections: list[tuple[str, str]], updates: dict[str, RefUpdate]) -> str:
    """One actionable sentence for the root cause (not the 'atomic push failed' echoes)."""
    roots = [(r, why) for r, why in rejections if "atomic push fail" not in why] or rejections
    ref, why = roots[0]
    upd = updates.get(ref)
    seen = (upd.old or "absent")[:12] if upd else "?"
    if "stale info" in why:
        return (f"the remote moved since the scan ({ref} is no longer {seen}); nothing was pushed. "
                "Someone pushed after the scan: their commits must be purged too. Scan and plan again "
                "from the current remote, rewrite, re-approve, then push")
    if "non-fast-forward" in why or "protected" in why:
        return (f"{ref} is protected against force-pushes ({why.strip('[]() ')}); nothing was pushed. Lift the "
                "protection for the purge window (receive.denyNonFastForwards false on the server, or the "
                "forge's branch protection), push again, then restore it")
    if "hook declined" in why:
        return (f"the server's pre-receive hook refused {ref}; nothing was pushed. Ask its administrator to let "
                "the purge push through (or disable the hook for the window), then push again")
    if "deletion prohibited" in why:
        return (f"the server refuses to delete {ref} (receive.denyDeletes); nothing was pushed. Allow deletions "
                "for the purge window, or keep the ref by re-planning")
    if "checked out" in why:
        return (f"the remote is a non-bare repository with {ref} checked out; nothing was pushed. Push to its bare "
                "upstream instead (--remote), or set receive.denyCurrentBranch=updateInstead there")
    if "hidden" in why:
        return f"{ref} is a ref the host hides and will not update; nothing was pushed. Leave it to the support request"
    return f"the remote refused {ref}: {why}; nothing was pushed"


def _parse_porcelain(stdout: str) -> tuple[list[str], list[tuple[str, str]]]:
    lines, rejected = [], []
    for line in git.lines(stdout):
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[0]) != 1:
            continue
        lines.append(line)
        if parts[0] == "!":
            dst = parts[1].rsplit(":", 1)[-1]
            rejected.append((dst, parts[2]))
    return lines, rejected


def gc_remote_repository(path: Path) -> None:
    """Expire reflogs and prune at a remote we control, so old commits stop being served."""
    repo = git.git_dir(path)
    git.run(["reflog", "expire", "--expire=now", "--expire-unreachable=now", "--all"], cwd=repo)
    git.run(["-c", "gc.pruneExpire=now", "-c", "gc.reflogExpireUnreachable=now", "gc", "--quiet", "--prune=now"],
            cwd=repo)


def push(workdir: str | os.PathLike[str], *, remote: str | git.Location | None = None, min_approvals: int | None = None,
         dry_run: bool = False, gc_remote: bool = False, policy: ApprovalPolicy | None = None) -> PushResult:
    """Force-push the rewritten refs atomically, each leased to its tip at scan.

    AwaitingApproval (exit 3) without ``min_approvals`` distinct valid approvers,
    counted by ``policy`` (default: the one the playbook recorded) — a dry run
    only reports; PushRejected (exit 2) when the remote refuses, with the remote
    left exactly as it was.
    """
    wd = Workdir.open(workdir)
    if wd.mirror.is_dir():
        leased_push.clear(wd.mirror)  # what a push killed mid-way left in the mirror
    record = rewrite_record.current(wd)
    target = resolve_remote(record.source, remote)
    shown = target.shown
    digest = record.plan_digest
    forge = git.forge_managed(target)
    updates, hidden = planned_updates(record, forge_refs=forge)
    tracking = tracking_left_out(record, target)
    updates = [u for u in updates if u.ref not in tracking]
    need = 1 if min_approvals is None else min_approvals
    if need < 1:
        raise UsageError("--min-approvals must be at least 1")
    gc_path: Path | SshRemote | None = None
    if gc_remote:
        gc_path = local_path(target) or ssh_remote(target)
        if gc_path is None or (isinstance(gc_path, Path) and not gc_path.exists()):
            raise UsageError(f"--gc-remote needs a bare repository you control (a path or ssh); {shown} is "
                             "neither (nothing was pushed)")
    verdicts = judge(wd.root, policy_of(wd, policy), record=record)
    approvers = approvers_of(verdicts)

    # The workdir shows a ref whose name held a value redacted; the remote still has it under its real name.
    red = names.from_plan(load_plan(wd.plan)) if wd.plan.is_file() else names.Redactor(())
    if dry_run:
        # Read the remote as the real push would: a missing or unreachable one is an error here too,
        # and a ref that moved since the scan is named now rather than at the real push.
        try:
            now = red.show_keys(git.remote_refs(target))
        except GitError as exc:
            raise UsageError(f"{shown}: cannot read the remote's refs ({git.redact_url(str(exc))}); "
                             "nothing was pushed") from exc
        stale = [u.ref for u in updates if now.get(u.ref) not in (u.old, u.new)]
        move = remote_head.needed(target, red)
        return PushResult(shown, updates, hidden, approvers, dry_run=True, stale_refs=stale, tracking_refs=tracking,
                          head_step=move.operator_step() if move is not None and not move.ours else None)
    if len(approvers) < need:
        wd.record("push", "waiting", remote=shown, approvals=len(approvers), required=need)
        wd.audit.append("push-refused", reason="approvals", have=len(approvers), need=need, digest=digest,
                        not_counted={v.file: v.reason for v in verdicts if not v.counts})
        ignored = [f"{v.file} ({v.reason})" for v in verdicts if not v.counts][:3]
        raise AwaitingApproval(
            f"push needs {need} distinct valid approval(s) of plan digest {digest[:12]}…, has {len(approvers)}"
            + (f"; not counted: {', '.join(ignored)}" if ignored else "")
            + f"; each approver runs: {approve_command(wd, digest)}")

    from sanitize.purge import fail_closed

    unfixed = fail_closed.waiting_in(wd)
    if unfixed:
        wd.record("push", "waiting", remote=shown, unacknowledged_code=[i.path for i in unfixed])
        raise AwaitingApproval(fail_closed.waiting_message(unfixed, approve_command(wd, digest)))

    now = red.show_keys(git.remote_refs(target))
    # Collaborators' pushes on top of the rewritten tips (the guard lets exactly those in) mean "pushed", too.
    forward = pushed_with_forward_moves(
        wd.mirror, target, {r: s for r, s in now.items() if not is_hidden(r, forge_refs=forge)},
        {u.ref: u.new for u in updates}, {u.ref: u.old for u in updates}, set(record.old_commits), wd.root)
    move = remote_head.needed(target, red)
    if forward is not None:
        if move is not None and move.ours:
            _move_head(wd, move)
        gc_done = _maybe_gc(wd, gc_path)
        wd.record("push", "done", remote=shown, hidden_refs=hidden, already_pushed=True, forward_refs=sorted(forward),
                  operator_step=None)
        return PushResult(shown, updates, hidden, approvers, already_pushed=True, gc_done=gc_done,
                          forward_refs=sorted(forward))
    known = {u.ref for u in updates}
    newcomers = sorted(r for r in now if r not in known and not is_hidden(r, forge_refs=forge))
    if newcomers:
        wd.record("push", "failed", remote=shown, reason="refs created after the scan", refs=newcomers)
        raise PushRejected(f"the remote has refs created after the scan ({', '.join(newcomers[:3])}); nothing was "
                           "pushed. Their history was never scanned: scan, plan and rewrite again")

    if move is not None and not move.ours:
        step = move.operator_step()
        wd.record("push", "failed", remote=shown, reason="the remote's HEAD names a renamed branch",
                  operator_step=step)
        wd.audit.append("push-refused", reason="remote-head", remote=shown, head=move.shown_old)
        raise PushRejected(step)

    wd.record("push", "running", remote=shown)
    wd.audit.append("push-started", remote=shown, digest=digest, approvers=approvers,
                    refs={u.ref: u.new for u in updates if u.action != "unchanged"})
    fault_point("push:before-transfer")
    if move is not None:
        _move_head(wd, move)  # off the branch the push deletes: receive-pack refuses to delete HEAD's branch
    # A renamed ref is deleted under its real name (shown redacted everywhere else).
    proc = leased_push.push(wd.mirror, target, [(red.reveal(u.ref), u.old, u.new) for u in updates])
    fault_point("push:after-transfer")
    # Parsed before redacting: a shown name holds ':' and the porcelain line splits on it.
    lines, rejected = _parse_porcelain(proc.stdout.decode("utf-8", "surrogateescape"))
    lines, rejected = [red.show(x) for x in lines], [(red.show(r), red.show(why)) for r, why in rejected]
    if proc.returncode != 0 or rejected:
        if move is not None:
            move.undo()
            wd.audit.append("remote-head-restored", remote=shown, head=move.shown_old)
        if not rejected:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = red.show(git.redact_url(err[-1])) if err else f"exit {proc.returncode}"
            msg = f"push to the remote failed: {reason}; nothing was pushed"
        else:
            msg = _explain(rejected, {u.ref: u for u in updates})
        wd.record("push", "failed", remote=shown, rejected=[r for r, _ in rejected])
        wd.audit.append("push-rejected", remote=shown, rejected=dict(rejected))
        raise PushRejected(msg)
    wd.record("push", "done", remote=shown, hidden_refs=hidden, approvers=approvers, gc_remote=False,
              updates=[_as_dict(u) for u in updates], tracking_refs=tracking, operator_step=None)
    wd.audit.append("pushed", remote=shown, digest=digest, approvers=approvers, hidden_refs=hidden)
    gc_done = _maybe_gc(wd, gc_path)
    if gc_done:
        wd.record("push", "done", gc_remote=True)
    return PushResult(shown, updates, hidden, approvers, gc_done=gc_done, porcelain=lines, tracking_refs=tracking,
                      head_moved=move.shown_old if move is not None else None)


def _move_head(wd: Workdir, move: remote_head.HeadMove) -> None:
    move.apply()
    wd.audit.append("remote-head-moved", remote=move.target.shown, old=move.shown_old, new=move.new)


def _maybe_gc(wd: Workdir, path: Path | SshRemote | None) -> bool:
    if path is None:
        return False
    if isinstance(path, SshRemote):
        path.gc()
    else:
        gc_remote_repository(path)
    wd.audit.append("remote-gc", remote=str(path))
    return True


def _as_dict(u: RefUpdate) -> dict[str, str | None]:
    return {"ref": u.ref, "old": u.old, "new": u.new, "action": u.action}
