"""Prove the push: what a fresh client gets from the remote is the rewritten history, and clean.

A fresh ``git clone --mirror --no-local`` sees exactly what any client would
(``--no-local`` so a path remote does not hand over unreachable objects).
Every tip must equal the rewritten tip, no purged blob may be reachable, and a
rescan must not find any value the plan removed. Separately, because a server
keeps old objects until it collects garbage and protocol v2 lets a client
fetch any of them by full id, verify tries to fetch each old first-changed
commit and reports whether the server still serves it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sanitize import git
from sanitize.artifacts import rewrite_record
from sanitize.errors import VerificationFailed
from sanitize.git import forge_managed, is_hidden, resolve_remote
from sanitize.names import Redactor, from_plan, to_renamed
from sanitize.printable import printable
from sanitize.purge import second_opinion
from sanitize.purge.forward import classify
from sanitize.purge.plan import Plan, load_plan
from sanitize.purge.push import tracking_left_out
from sanitize.purge.remote_head import holds_value
from sanitize.purge.rescan import Remaining
from sanitize.shellquote import quote
from sanitize.workdir import Workdir

MAX_PROBES = 20


@dataclass(frozen=True)
class VerifyResult:
    """Everything verify checked; ``clean`` is the verdict."""

    remote: str
    mismatched: dict[str, tuple[str | None, str | None]]   # ref → (remote has, rewritten)
    hidden_stale: list[str]            # host-managed refs still pointing into old history
    purged_present: list[str]          # purged blob ids a fresh clone still receives
    findings: int                      # planned secrets the rescan still finds
    old_commits_served: dict[str, bool] = field(default_factory=dict)
    forward: dict[str, str] = field(default_factory=dict)   # refs collaborators moved on from the rewritten tips
    remaining: Remaining | None = None  # everything the rescan found, planned or not
    head_step: str | None = None  # the remote's HEAD still names a name that held a value: what to do
    second_opinion: Mapping[str, object] = field(default_factory=dict)  # gitleaks' counts (never decides)

    @property
    def clean(self) -> bool:
        """Tips match, nothing purged is reachable, the rescan is clean."""
        return not (self.mismatched or self.hidden_stale or self.purged_present or self.findings or self.head_step)

    @property
    def still_served(self) -> list[str]:
        """Old commits the server hands out by id (until it runs gc)."""
        return [c for c, served in self.old_commits_served.items() if served]

    def problems(self) -> list[str]:
        """Human-readable reasons it is not clean."""
        out = []
        if self.mismatched:
            refs = sorted(self.mismatched)
            out.append(f"{len(refs)} ref(s) differ from the rewritten tips ({', '.join(refs[:3])})")
        if self.hidden_stale:
            out.append(f"{len(self.hidden_stale)} ref(s) no push can update still hold old history "
                       f"({', '.join(self.hidden_stale[:3])}): send notices/forge-support-request.md")
        if self.purged_present:
            out.append(f"{len(self.purged_present)} purged blob(s) still reachable")
        if self.findings:
            out.append(f"the rescan still finds {self.findings} planned secret(s)")
        if self.head_step:
            out.append(self.head_step)
        return out


def _rescan(clone: Path, wd: Workdir, plan: Plan) -> Remaining:
    """Every finding the plan's rules still produce in the clone, grouped by what the plan decided."""
    from sanitize.scan.cache import WORKDIR_NAME, ScanCache
    from sanitize.scan.engine import scan_repository
    from sanitize.scan.report import ScanReport

    shas = set(plan.planned_sha256s)
    # A deleted file's content hash, from the scan's path findings: the same key re-added elsewhere counts.
    ids = {i for d in plan.delete_paths for i in d.finding_ids}
    findings = wd.root / "findings.json"
    if ids and findings.is_file():
        shas |= {f.secret_sha256 for f in ScanReport.load(findings).findings if f.id in ids}
    # The rewrite's rescan filled the workdir's cache: only objects the remote has and the rewrite did not are read.
    report = scan_repository(str(clone), rules_file=plan.rules_file,
                             cache=ScanCache.open(wd.root / WORKDIR_NAME, plan.rules_file))
    return Remaining.of(report.findings, planned_sha256s=shas,
                        planned_paths=set(plan.paths) | {to_renamed(p) for p in plan.paths},
                        held_back=plan.held_back, dropped=plan.dropped)


def _present(repo: Path, ids: Iterable[str]) -> list[str]:
    return git.objects.present(repo, ids)


def probe_old_commits(remote: str | git.Location, commits: Iterable[str], scratch: Path) -> dict[str, bool]:
    """For each old commit id: does the server still serve it to a protocol-v2 fetch by id?"""
    probe = scratch / "probe.git"
    git.run(["init", "--quiet", "--bare", str(probe)])
    served: dict[str, bool] = {}
    for sha in list(commits)[:MAX_PROBES]:
        # --depth=1: the answer is whether the server hands the commit out, not its whole history.
        proc = git.run(["-c", "protocol.version=2", "fetch", "--quiet", "--depth=1", "--no-tags",
                        "--no-write-fetch-head", remote, sha], cwd=probe, check=False)
        served[sha] = proc.returncode == 0
    return served


def _head_step(head: str | None, red: Redactor) -> str | None:
    """What to do about a remote HEAD whose name holds a value (None when it holds none)."""
    shown = holds_value(head, red)
    if head is None or shown is None:
        return None
    new = quote(red.rename(head.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape"))
    return (f"the remote's HEAD (its default branch) still names {printable(shown)}, so every fresh clone gets the "
            f"value: make {new} (or another branch) the default in the forge's repository settings, or run "
            f"git symbolic-ref HEAD {new} in the repository on the server, then verify again")


def verify(workdir: str | os.PathLike[str], *, remote: str | git.Location | None = None) -> VerifyResult:
    """Clone the remote fresh and prove it holds exactly the rewritten, clean history.

    VerificationFailed (exit 1) unless clean; old commits still served by id are
    reported in the result (and state) without failing: only the host's gc removes them.
    """
    wd = Workdir.open(workdir)
    rec = rewrite_record.load(wd)
    rewrite_record.check_mirror_unchanged(wd, rec)
    target = resolve_remote(rec.source, remote)
    tips = dict(rec.rewritten_tips)
    wd.record("verify", "running", remote=target.shown)
    with tempfile.TemporaryDirectory(prefix="verify-", dir=wd.root) as tmp:
        scratch = Path(tmp)
        clone = scratch / "clone.git"
        git.run(["clone", "--quiet", "--mirror", "--no-local", target, str(clone)])
        # A ref whose name still holds a value is compared, and reported, redacted.
        plan = load_plan(wd.plan) if wd.plan.is_file() else None
        red = from_plan(plan) if plan is not None else Redactor(())
        got = red.show_keys(git.refs(clone))
        forge = forge_managed(target)  # on plain git, refs/pull/* are ordinary refs: checked like branches
        hidden_stale = sorted(r for r in got if is_hidden(r, forge_refs=forge) and got[r] != tips.get(r))
        tracking = set(tracking_left_out(rec, target))  # a scanned clone's refs/remotes/*: never pushed here
        tips = {r: s for r, s in tips.items() if r not in tracking}
        # Refs collaborators moved forward from the rewritten tips are fine; anything else is a mismatch.
        check = classify(clone, got, tips, set(rec.old_commits),
                         skip=frozenset(r for r in set(got) | set(tips) if is_hidden(r, forge_refs=forge)))
        mismatched = check.mismatched
        purged_present = _present(clone, rec.purged_blobs)
        # A fresh clone takes the remote's HEAD even when the branch it names is gone: its name counts too.
        head_step = _head_step(git.remote_head(str(clone)), red)
        plan = plan or load_plan(wd.plan)  # no plan: load_plan's own one-line error
        left = _rescan(clone, wd, plan)
        old = rec.first_changed_commits or sorted(set(rec.first_changed.values()))
        served = probe_old_commits(target, old, scratch)
        # Last, as it re-files the clone's refs: another engine's verdict on what the remote now serves.
        at_scan = dict(rec.tips_at_scan)
        unchanged = {r: t for r, t in git.refs(clone).items() if at_scan.get(r) == t}
        opinion = second_opinion.on_fresh_clone(clone, plan.planned_sha256s, unchanged)
    result = VerifyResult(target.shown, mismatched, hidden_stale, purged_present, len(left.planned),
                          served, check.forward, left, head_step, second_opinion=opinion)
    detail: dict[str, object] = {
        "remote": result.remote, "clean": result.clean, "problems": result.problems(),
        "old_commits_served": result.still_served, "forward_refs": sorted(result.forward),
        "rescan": left.to_dict(), "operator_step": result.head_step,
        "second_opinion": dict(result.second_opinion),
    }
    wd.audit.append("verified", **detail)
    if not result.clean:
        wd.record("verify", "failed", **detail)
        raise VerificationFailed(f"{result.remote} is not clean: " + "; ".join(result.problems()))
    wd.record("verify", "done", **detail)
    return result
