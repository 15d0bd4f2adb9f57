"""``git-sanitize run PLAYBOOK``: every stage in order, resumed from the workdir's state.

scan → plan → rewrite → notify → [approval gate] → push → verify → guard → rotate.
A stage recorded ``done`` is never run again; one recorded ``running`` was
interrupted (crash, kill) and is run again — every stage is idempotent. Until
the push, the source must still be where the scan saw it: if any ref moved,
the plan no longer describes the repository and the run stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from sanitize import git
from sanitize.artifacts.state import State
from sanitize.errors import AwaitingApproval, UsageError
from sanitize.faults import fault_point
from sanitize.names import Redactor, from_plan
from sanitize.playbook.config import Playbook
from sanitize.purge.approval import approve_command
from sanitize.purge.plan import load_plan
from sanitize.shellquote import quote
from sanitize.workdir import STAGES, Workdir, file_sha256, write_private

FINDINGS = "findings.json"
REVIEW = "review"


@dataclass
class RunResult:
    """What a run did: the stages it ran now, and whether the purge is complete."""

    ran: list[str] = field(default_factory=list)
    complete: bool = False
    clean: bool = False


def source_tips(source: str | git.Location) -> dict[str, str]:
    """Every ref the source advertises now (peeled tag lines and HEAD left out)."""
    return git.remote_refs(source)


def moved_refs(seen: dict[str, str], now: dict[str, str]) -> list[str]:
    """Refs that changed, appeared or disappeared since the scan."""
    return sorted(ref for ref in set(seen) | set(now) if seen.get(ref) != now.get(ref))


class Runner:
    """Runs one playbook's stages against its workdir."""

    def __init__(self, playbook: Playbook, *, echo: Callable[[str], None], progress: bool = False) -> None:
        if not playbook.is_purge or playbook.workdir is None or playbook.source is None:
            raise UsageError(f"{playbook.path}: not a purge playbook (no source); use `git-sanitize rotate`")
        self.pb = playbook
        # Locations hold the playbook's real addresses in memory; only their redacted forms are stored.
        self.source: git.Location = playbook.source
        self.remote: git.Location = playbook.remote or playbook.source
        self.echo = echo
        self.progress = progress
        if self.source.path is not None and not self.source.is_url:
            git.git_dir(self.source.path)  # a missing or non-repository source fails before anything is created
        self.wd = Workdir.create(playbook.workdir)
        self._claim_workdir()

    # Workdir ownership ------------------------------------------------------------------
    def _claim_workdir(self) -> None:
        meta = self.wd.meta()
        if meta.source is not None and git.redact_url(meta.source) != self.source.shown:
            raise UsageError(f"{self.wd.root}: workdir belongs to a purge of {git.redact_url(meta.source)}; "
                             "use another workdir")
        from sanitize.purge.approval import ApprovalPolicy

        policy = ApprovalPolicy(allowed_signers=self.pb.allowed_signers, unsigned=self.pb.unsigned_approvals)
        # Where a URL's credentials come from, never the credentials: a later run reads the playbook again.
        credentials = {name: loc.credential_note for name, loc in (("source", self.source), ("remote", self.remote))
                       if loc.credential_note}
        self.wd.set_meta(source=self.source.shown, remote=self.remote.shown, credentials=credentials,
                         playbook=str(self.pb.path),
                         approvals_required=self.pb.approvals_required, approval_policy=policy.to_meta(),
                         approval_expires=self.pb.approval_expires)

    @property
    def rules_file(self) -> str | None:
        """The playbook's extra rules: scan, plan and the rewrite's rescan must all use the same ones."""
        return str(self.pb.rules) if self.pb.rules else None

    @property
    def findings_path(self) -> Path:
        return self.wd.root / FINDINGS

    @property
    def plan_path(self) -> Path:
        return self.wd.root / REVIEW / "plan.json"

    # The run ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run every stage not yet done, holding the workdir's lock; raise at the gate (exit 3) or on failure."""
        with self.wd.exclusive():
            return self._run_stages()

    def _run_stages(self) -> RunResult:
        result = RunResult()
        steps: list[tuple[str, Callable[[], str]]] = [
            ("scan", self._scan), ("plan", self._plan), ("rewrite", self._rewrite), ("notify", self._notify),
            ("approve", self._gate), ("push", self._push), ("verify", self._verify), ("guard", self._guard),
            ("rotate", self._rotate),
        ]
        for number, (name, step) in enumerate(steps, 1):
            if name == "plan" and self.wd.stage("scan").number("findings") == 0:
                self.echo("the history is clean: nothing to purge")
                result.clean = result.complete = True
                return result
            status = self.wd.stage(name).status
            if status in ("done", "skipped"):
                continue
            if status == "running":
                self.echo(f"[{number}/{len(steps)}] {name}: resuming after an interrupted run")
            if name in ("rewrite", "push"):
                self._check_source_unchanged(name)
            started = time.monotonic()
            self.echo(f"[{number}/{len(steps)}] {name} …")
            if name != "approve":
                self.wd.record(name, "running")
            try:
                summary = step()
            except AwaitingApproval:
                if name != "approve":
                    self.wd.record(name, "waiting")  # push: a fallback still to acknowledge; not interrupted
                raise
            except BaseException:
                if name != "approve" and self.wd.stage(name).status != "waiting":
                    self.wd.record(name, "failed")  # a stage that said it waits (rotate: still live) stays so
                raise
            if self.wd.stage(name).status not in ("done", "skipped"):
                self.wd.record(name, "done")
            result.ran.append(name)
            self.echo(f"[{number}/{len(steps)}] {name}: {summary} ({time.monotonic() - started:.1f} s)")
            fault_point(name)  # crash tests: killed right after the stage is recorded done
        result.complete = True
        return result

    def _check_source_unchanged(self, stage: str) -> None:
        seen = self.wd.stage("scan").refs("tips")
        # The scan recorded a ref whose name holds a value redacted: compare (and name) the source's the same way.
        plan = self.wd.plan if self.wd.plan.is_file() else self.plan_path
        red = from_plan(load_plan(plan)) if plan.is_file() else Redactor(())
        now = red.show_keys(source_tips(self.source))
        moved = moved_refs(seen, now)
        if moved and stage == "push" and self.source == self.remote:
            # A push that landed while its record did not (killed after the transfer, or a network
            # remote finishing receive-pack after the client died): every moved ref is the rewrite's.
            rewritten = self.wd.stage("rewrite").refs("rewritten_tips")
            if all(now.get(ref) == rewritten.get(ref) for ref in moved):
                return
        if moved:
            raise UsageError(
                f"the source changed since the plan ({len(moved)} ref(s) moved, e.g. {moved[0]}): "
                f"the plan no longer matches; start a new purge with a fresh workdir"
            )

    # Stages -----------------------------------------------------------------------------
    def _scan(self) -> str:
        from sanitize.scan.cache import WORKDIR_NAME, ScanCache
        from sanitize.scan.engine import scan_repository

        report = scan_repository(
            self.source,
            rules_file=self.rules_file,
            baseline=str(self.pb.baseline) if self.pb.baseline else None,
            progress=self.progress,
            graph_cache=self.wd.root,
            cache=ScanCache.open(self.wd.root / WORKDIR_NAME, self.rules_file),  # the rewrite's rescan reuses it
        )
        write_private(self.findings_path, report.to_json().encode("utf-8"))
        self.wd.record("scan", "done", tips=report.refs, findings=len(report.findings),
                       artifacts={FINDINGS: file_sha256(self.findings_path)})
        return f"{len(report.findings)} findings in {report.stats.commits} commits, {len(report.refs)} refs"

    def _plan(self) -> str:
        from sanitize.purge.plan import make_plan

        review = self.wd.root / REVIEW
        review.mkdir(mode=0o700, exist_ok=True)
        digest = make_plan(str(self.findings_path), str(self.plan_path), rules_file=self.rules_file,
                           location=self.source, graph_cache=self.wd.root).digest
        self.wd.set_meta(plan_digest=digest)
        self.wd.record("plan", "done", plan_digest=digest,
                       artifacts={p.name: file_sha256(p) for p in sorted(review.iterdir()) if p.is_file()})
        return f"plan {digest[:12]} written to {review}"

    def _rewrite(self) -> str:
        from sanitize.purge.rewrite import rewrite

        rewrite(str(self.plan_path), str(self.wd.root), progress=self.progress, rules_file=self.rules_file,
                location=self.source)
        from sanitize.artifacts import rewrite_record
        return f"rewrote {rewrite_record.load(self.wd).blast_radius.describe()}; rescan clean"

    def _notify(self) -> str:
        from sanitize.collaborator.notify import notify

        n = self.pb.notify
        notify(str(self.wd.root), roster=str(n.roster) if n.roster else None,
               templates=str(n.templates) if n.templates else None, deadline=n.deadline, freeze=n.freeze)
        return f"notices in {self.wd.notices}"

    def _gate(self) -> str:
        from sanitize.purge.approval import approvers_of, judge, policy_of

        approvers = approvers_of(judge(self.wd.root, policy_of(self.wd)))
        required = self.pb.approvals_required
        from sanitize.purge import fail_closed

        unfixed = fail_closed.waiting_in(self.wd)
        if len(approvers) >= required and unfixed:
            self.wd.record("approve", "waiting", approvers=approvers, required=required)
            digest = self.wd.meta().plan_digest or "?"
            raise AwaitingApproval(fail_closed.waiting_message(unfixed, approve_command(self.wd, digest)))
        if len(approvers) >= required:
            self.wd.record("approve", "done", approvers=approvers, required=required)
            return f"{len(approvers)} of {required} approvals: {', '.join(approvers)}"
        self.wd.record("approve", "waiting", approvers=approvers, required=required)
        digest = self.wd.meta().plan_digest or "?"
        for line in gate_instructions(self.wd, digest, len(approvers), required):
            self.echo(line)
        raise AwaitingApproval(f"waiting for approval: {len(approvers)} of {required}; "
                               f"run this playbook again after `git-sanitize approve`")

    def _push(self) -> str:
        from sanitize.purge.push import push

        push(str(self.wd.root), remote=self.remote, min_approvals=self.pb.approvals_required,
             gc_remote=self.pb.gc_remote)
        return f"force-pushed the rewritten refs to {self.remote}"

    def _verify(self) -> str:
        from sanitize.purge.verify import verify

        verify(str(self.wd.root), remote=self.remote)
        return "fresh clone of the remote matches the rewrite and rescans clean"

    def _guard(self) -> str:
        if not self.pb.guard:
            self.wd.record("guard", "skipped", reason="guard: false in the playbook")
            return "skipped (guard: false)"
        if self.remote.is_url or self.remote.path is None:
            self.wd.record("guard", "skipped", reason="remote is not a local path")
            return "skipped: install the pre-receive hook on the server (`git-sanitize guard install`)"
        from sanitize.purge.guard import install_guard

        hook = install_guard(str(self.wd.root), self.remote.path)
        return f"pre-receive hook installed at {hook}"

    def _rotate(self) -> str:
        if self.pb.rotate is None:
            self.wd.record("rotate", "skipped", reason="no rotation config in the playbook")
            return "skipped (no rotate: config); rotate every exposed secret by hand now"
        from rotation.config import load_config
        from rotation.engine import rotate

        log_path = self.wd.root / "rotation.log"

        def log(line: str) -> None:
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(line.rstrip("\n") + "\n")

        summary = rotate(load_config(self.pb.rotate), mode=self.pb.rotate_mode, findings=str(self.findings_path),
                         audit=self.wd.audit, log=log)
        artifacts = {log_path.name: file_sha256(log_path)} if log_path.exists() else {}
        if summary.still_live:
            # Not done: the purge is not over while a leaked value still works. A re-run rotates again
            # (what is already rotated is read back from the audit log) and finishes once all are dead or acked.
            self.wd.record("rotate", "waiting", rotated=summary.rotated, exposed=summary.exposed,
                           still_live=summary.still_live, artifacts=artifacts)
            summary.raise_if_still_live(
                f"; see each one's action in {log_path}, then `git-sanitize rotate --config "
                f"{quote(str(self.pb.rotate))} --audit-log {quote(str(self.wd.audit.path))} --ack NAME` "
                "once each is revoked, and run this playbook again")
        self.wd.record("rotate", "done", rotated=summary.rotated, exposed=summary.exposed, artifacts=artifacts)
        return f"{summary} (step log: {log_path})"


def gate_instructions(wd: Workdir, digest: str, have: int, required: int) -> list[str]:
    """What a reviewer must read before approving, and the exact command."""
    from sanitize.purge import fail_closed

    unfixed = fail_closed.waiting_in(wd)
    acks = "".join(f" --ack-code {quote(p)}" for p in dict.fromkeys(i.path for i in unfixed))
    return [
        "",
        f"Approval needed ({have} of {required}). Review before approving:",
        f"  plan:           {wd.root / REVIEW / 'plan.md'}",
        f"  rewrite report: {wd.root / 'rewrite-report.md'}",
        f"  notices:        {wd.notices}",
        *([f"  {len({(i.path, i.line) for i in unfixed})} hardcoded fallback(s) have no safe "
           "fail-closed edit (plan.md, \"No safe edit\"): acknowledging them (--ack-code) means fixing them in code "
           "after the push"] if unfixed else []),
        "Then approve the exact plan digest:",
        f"  {approve_command(wd, digest)}{acks}",
        "",
    ]


class Approvals(TypedDict):
    """``status``'s approvals: how many count of how many needed, and whose."""

    required: int
    valid: int
    approvers: list[str]


class PurgeStatus(TypedDict):
    """The document ``git-sanitize status --format json`` prints."""

    workdir: str
    source: str | None
    plan_digest: str | None
    stages: dict[str, dict[str, str]]
    approvals: Approvals
    next: str
    forward_refs: list[str]


def status(workdir: str | Path) -> PurgeStatus:
    """Where a purge stands (the JSON ``status`` prints): plan digest, each stage, approvals, what comes next."""
    wd = Workdir.open(workdir)
    state = wd.state()
    meta = state.meta
    stages: dict[str, dict[str, str]] = {}
    for name in STAGES:
        rec = state.stage(name)
        shown = {"status": rec.status, "started": rec.started, "finished": rec.finished,
                 "reason": rec.text("reason"), "operator_step": rec.text("operator_step")}
        stages[name] = {k: v for k, v in shown.items() if v is not None}
    for name in _done_outside(state):
        stages[name] = {"status": "done", "reason": "run outside this workdir; rewrite copied the plan in"}
    approvers: list[str] = []
    if stages["rewrite"]["status"] == "done":
        from sanitize.purge.approval import ApprovalPolicy, approvers_of, judge

        policy = ApprovalPolicy.from_meta(meta.approval_policy)
        approvers = approvers_of(judge(wd.root, policy)) if policy else []
    required = meta.approvals_required
    return {
        "workdir": str(wd.root),
        "source": git.redact_url(source) if (source := meta.source or state.stage("rewrite").text("source")) else None,
        "plan_digest": meta.plan_digest or state.stage("rewrite").text("plan_digest"),
        "stages": stages,
        "approvals": {"required": required, "valid": len(approvers), "approvers": approvers},
        "next": _next_step(wd, state, len(approvers), required),
        # Collaborators' pushes on top of the rewritten tips: seen by push/verify, and fine.
        "forward_refs": sorted(set(state.stage("verify").names("forward_refs"))
                               | set(state.stage("push").names("forward_refs"))),
    }


def _done_outside(state: State) -> list[str]:
    """Stage by stage (no playbook): scan and plan ran outside the workdir once rewrite has run."""
    if state.meta.playbook is not None or state.stage("rewrite").status == "pending":
        return []
    return [n for n in ("scan", "plan") if state.stage(n).status == "pending"]


def _next_step(wd: Workdir, state: State, have: int, required: int) -> str:
    outside = _done_outside(state)
    pending = [n for n in STAGES if state.stage(n).status not in ("done", "skipped") and n not in outside]
    if not pending:
        return "nothing: the purge is complete"
    first = pending[0]
    status = state.stage(first).status
    step = state.stage(first).text("operator_step")
    if step and status == "failed":  # only the host's operator can do it (the remote's HEAD): say exactly what
        return f"{first}: {step}"
    playbook = state.meta.playbook or "PLAYBOOK"
    digest = state.meta.plan_digest or state.stage("rewrite").text("plan_digest") or "?"
    if first in ("approve", "push"):
        from sanitize.purge import fail_closed

        unfixed = fail_closed.waiting_in(wd)
        if unfixed:
            return "approve: " + fail_closed.waiting_message(unfixed, approve_command(wd, digest))
    if first == "approve" and have < required:
        return f"approve: {approve_command(wd, digest)} ({have} of {required} so far)"
    live = state.stage("rotate").names("still_live")
    if first == "rotate" and status == "waiting" and live:
        return (f"rotate: {len(live)} exposed credential(s) still live ({', '.join(live[:4])}"
                f"{', …' if len(live) > 4 else ''}): revoke each as {wd.root / 'rotation.log'} says, record it with "
                f"git-sanitize rotate --config CONFIG --audit-log {quote(str(wd.audit.path))} --ack NAME, "
                f"then git-sanitize run {quote(str(playbook))}")
    if state.meta.playbook is None:
        return _next_command(wd, first, status)
    verb = "resume" if status in ("running", "failed", "waiting") else "run"
    return f"{first}: git-sanitize run {quote(str(playbook))} ({verb}s at {first})"


def _next_command(wd: Workdir, stage: str, state: str) -> str:
    """The next stage's own command, for a purge run stage by stage (no playbook)."""
    w = quote(str(wd.root))
    again = "again " if state in ("running", "failed", "waiting") else ""
    commands = {
        "scan": "git-sanitize scan SOURCE -o FINDINGS, then git-sanitize plan FINDINGS -o PLAN",
        "plan": "git-sanitize plan FINDINGS -o PLAN",
        "rewrite": f"git-sanitize rewrite PLAN --workdir {w}",
        "notify": f"git-sanitize notify --workdir {w} [--roster CSV] [--deadline DATE]",
        "push": f"git-sanitize push --workdir {w}",
        "verify": f"git-sanitize verify --workdir {w}",
        "guard": f"git-sanitize guard install --workdir {w} --remote BARE_REPO (or on the server)",
        "rotate": f"git-sanitize rotate --config rotation.yml --findings FINDINGS --audit-log "
                  f"{quote(str(wd.audit.path))}",
    }
    return f"{stage}: {again}{commands.get(stage, f'git-sanitize {stage} --workdir {w}')}"
