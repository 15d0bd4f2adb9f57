"""The purge's commands, in the order they run: ``plan``, ``rewrite``, ``approve``, ``push``,
``verify``, the ``guard`` group; then ``status`` and ``restore``. (notify sits between
rewrite and approve: collaborator.py.)"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from sanitize.cli.command import _Command, _detail, _exclusive, _first, _Group, _guard, _say, _working


@click.command(cls=_Command)
@click.argument("findings", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", default=None, type=click.Path(dir_okay=False),
              help="plan.json to write (default: ./plan.json outside a git work tree); plan.secrets (0600, every "
                   "leaked value) and plan.md are written beside it.")
@click.option("--keep-path", "keep_paths", multiple=True, metavar="PATH",
              help="Do not delete PATH from history (repeatable); values in it are still replaced.")
@click.option("--drop", "drop_findings", multiple=True, metavar="FINDING_ID",
              help="Leave out a finding judged a false positive (repeatable).")
@click.option("--include", "include_findings", multiple=True, metavar="FINDING_ID",
              help="Purge a finding the default holds back (a low-confidence value in a test, doc, example or "
                   "vendored file; plan.md lists them with this option). Repeatable.")
@click.option("--rules", "rules_file", default=None, type=click.Path(dir_okay=False),
              help="Rules file the scan used (recorded in the plan; the rewrite rescans with it).")
@_guard
def plan(findings: str, out: str | None, keep_paths: tuple[str, ...], drop_findings: tuple[str, ...],
         include_findings: tuple[str, ...], rules_file: str | None) -> None:
    """Turn FINDINGS into a reviewable plan: paths to delete, values to replace, messages to reword."""
    from pathlib import Path

    from sanitize import git
    from sanitize.errors import UsageError
    from sanitize.purge.blast_radius import describe
    from sanitize.purge.plan import make_plan

    if out is None:
        tree = git.work_tree_of(Path.cwd())
        if tree is not None:
            raise UsageError(f"plan.secrets holds every leaked value and would land in the work tree {tree}; "
                             "name a place outside it: -o ../purge/plan.json")
        out = "plan.json"
    if not Path(out).resolve().parent.is_dir():
        raise UsageError(f"-o {out}: the directory {Path(out).resolve().parent} does not exist")

    p = make_plan(findings, out, keep_paths=keep_paths, drop_findings=drop_findings,
                  include_findings=include_findings, rules_file=rules_file)
    s = p.summary
    _say(f"plan {p.digest} written to {p.path} (review {p.markdown_path}; values in {p.secrets_path}, 0600)")
    _say(f"  {s.delete_paths} path(s) to delete, {s.replacements} value(s) to replace, "
         f"{s.messages} message(s) to reword, {s.fix_in_code} fix-in-code item(s)")
    _say(f"  will change: {describe(s.dump())}")
    if s.held_back_values:
        _say(f"  {s.held_back_values} low-confidence value(s) in tests/docs/examples/vendored code held "
             f"back, not rewritten: review them in {p.markdown_path} (--include FINDING_ID to purge one)")


@click.command(cls=_Command)
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir (0700).")
@click.option("--rules", "rules_file", default=None, type=click.Path(dir_okay=False),
              help="Rules file for the rescan (default: the one recorded in the plan, else the built-in rules).")
@click.option("--progress/--no-progress", default=None,
              help="Show git-filter-repo's own progress lines on stderr (default: a spinner with the elapsed time "
                   "when stderr is a terminal).")
@click.option("--cache", "cache_file", type=click.Path(dir_okay=False, exists=True), default=None,
              envvar="GIT_SANITIZE_CACHE",
              help="The object cache of the scan the plan came from (scan --cache; env GIT_SANITIZE_CACHE): the "
                   "rescan reads only the objects it did not (the rewritten ones).")
@_guard
@_exclusive
def rewrite(plan_path: str, workdir: str, rules_file: str | None, progress: bool | None,
            cache_file: str | None) -> None:
    """Apply PLAN to a fresh mirror in WORKDIR with git-filter-repo; exit 1 unless the rescan is clean."""
    from sanitize.purge.blast_radius import describe
    from sanitize.purge.rewrite import rewrite as do_rewrite

    if progress:
        result = do_rewrite(plan_path, workdir, progress=True, rules_file=rules_file, scan_cache=cache_file)
    else:
        with _working("rewriting: mirror clone, backup bundle, git-filter-repo, rescan, second opinion") \
                if progress is None else contextlib.nullcontext():
            result = do_rewrite(plan_path, workdir, progress=False, rules_file=rules_file, scan_cache=cache_file)
    r = result.report
    _say(f"rewrote {describe(r.blast_radius.result)}; "
         f"{len(r.paths_removed)} path(s) removed, {len(r.replacements)} value(s) replaced; "
         f"verification clean")
    rescan: Any = r.verification.rescan  # Remaining.to_dict() and the rescan's counts (sanitize/purge/rescan.py)
    _say(f"  {rescan['summary']}")
    for f in _first(rescan["remaining"]["unplanned"]["first"]):
        _say(f"    not in the plan: {f['rule']} at {f['path'] or 'a message'} (preview {f['preview']})")
    _say(f"  second opinion: {_second_opinion(dict(r.independent_check))}")
    _say(f"  mirror: {result.mirror}  report: {result.workdir / 'rewrite-report.md'}")
    _detail("  steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings.items()))


def _second_opinion(check: dict[str, Any]) -> str:
    """The independent scanner's verdict on the rewritten history, in one phrase."""
    tool = check.get("tool", "gitleaks")
    if not check.get("ran"):
        return f"{tool} did not run ({check.get('reason', 'unknown reason')})"
    seen = check.get("planned_values_seen", 0)
    verdict = "none of the planned values" if not seen else f"{seen} PLANNED VALUE(S) STILL PRESENT"
    scope = {"all history": " in all history"}.get(str(check.get("scope")), f" in the {check.get('scope')}") \
        if check.get("scope") else ""
    return f"{tool} finds {check.get('findings', 0)} finding(s){scope}, {verdict}"


@click.command(cls=_Command)
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--approver", required=True, help="Your name, as it goes in the audit log.")
@click.option("--digest", required=True, help="The full plan digest you reviewed (plan.json 'digest').")
@click.option("--key", type=click.Path(dir_okay=False), default=None,
              help="Sign the approval with this SSH private key (checked against the purge's allowed_signers).")
@click.option("--expires", default=None, help="How long the approval holds (30m, 24h, 7d; default: the playbook's, "
              "else 24h).")
@click.option("--ack-code", "ack_code", multiple=True, metavar="PATH",
              help="Acknowledge a hardcoded fallback in PATH that has no safe fail-closed edit (plan.md lists them): "
                   "it ships falling back to the marker and is fixed in code after the push. Repeatable.")
@_guard
@_exclusive
def approve(workdir: str, approver: str, digest: str, key: str | None, expires: str | None,
            ack_code: tuple[str, ...]) -> None:
    """Approve the force-push of the exact plan digest and the current rewritten tips."""

    from sanitize.purge import fail_closed
    from sanitize.purge.approval import ApprovalPolicy, approvers_of, describe_approval, judge
    from sanitize.purge.approval import approve as do_approve
    from sanitize.purge.plan import read_plan
    from sanitize.workdir import Workdir

    wd = Workdir.open(workdir)
    acks = fail_closed.check_acknowledged(read_plan(wd.plan), ack_code) if ack_code else []
    a = do_approve(workdir, approver=approver, digest=digest, key=key,
                   expires=expires or wd.meta().approval_expires or "24h")
    _say(f"{describe_approval(workdir, a)}; until {a.expires}")
    if acks:
        fail_closed.acknowledge(wd, acks, approver)
        _say(f"acknowledged, to fix in code after the push: {', '.join(acks)}")
    policy = ApprovalPolicy.from_meta(wd.meta().approval_policy)
    if policy is not None:
        _say(f"{len(approvers_of(judge(workdir, policy)))} distinct valid approver(s) now "
             f"(counted: {policy.describe()})")


@click.command(cls=_Command)
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", default=None, help="Where to push (default: the plan's source).")
@click.option("--min-approvals", type=click.IntRange(min=1), default=None,
              help="Distinct valid approvals required (default 1).")
@click.option("--dry-run", is_flag=True, help="Print the exact ref updates; push nothing.")
@click.option("--gc-remote", is_flag=True,
              help="After the push, expire reflogs and prune on a path remote so old commits are gone.")
@click.option("--allowed-signers", type=click.Path(dir_okay=False), default=None,
              help="SSH allowed_signers file: approvals count when signed by one of its keys (default: the "
                   "playbook's).")
@click.option("--allow-unsigned", is_flag=True, help="Also count unsigned approvals recorded by `approve`.")
@_guard
@_exclusive
def push(workdir: str, remote: str | None, min_approvals: int | None, dry_run: bool, gc_remote: bool,
         allowed_signers: str | None, allow_unsigned: bool) -> None:
    """Force-push the rewritten refs: one atomic push, each ref leased to its tip at scan."""
    from pathlib import Path

    from sanitize.purge.approval import ApprovalPolicy
    from sanitize.purge.push import push as do_push

    policy = None
    if allowed_signers or allow_unsigned:
        policy = ApprovalPolicy(allowed_signers=Path(allowed_signers).resolve() if allowed_signers else None,
                                unsigned=allow_unsigned)
    result = do_push(workdir, remote=remote, min_approvals=min_approvals, dry_run=dry_run, gc_remote=gc_remote,
                     policy=policy)
    if dry_run:
        click.echo(f"dry run: would push to {result.remote} (approvers so far: {len(result.approvers)})")
        for u in result.updates:
            click.echo("  " + u.line())
        if result.stale_refs:
            click.echo(f"the real push would be refused: the remote moved since the scan on "
                       f"{len(result.stale_refs)} ref(s), e.g. {result.stale_refs[0]}; scan and plan again", err=True)
        if result.head_step:
            click.echo(f"the real push would be refused: {result.head_step}", err=True)
    elif result.already_pushed:
        _say(f"{result.remote} already holds the rewritten refs; nothing to push")
    else:
        _say(f"pushed {len(result.changed)} ref update(s) to {result.remote} "
             f"(approved by {', '.join(result.approvers)})")
        for u in result.changed:
            _detail("  " + u.line())
        if result.head_moved:
            _say(f"  the remote's HEAD named {result.head_moved}: it now names the branch's new name")
    for ref in result.hidden_refs:
        _say(f"  left out (host-managed, read-only): {ref} — see notices/forge-support-request.md")
    if result.tracking_refs:
        _say(f"  left out: {len(result.tracking_refs)} remote-tracking ref(s) of the scanned clone "
             "(refs/remotes/*), not branches of this remote")
    if result.gc_done:
        _say("  expired reflogs and pruned unreachable objects on the remote")


@click.command(cls=_Command)
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", default=None, help="The remote to check (default: the plan's source).")
@_guard
@_exclusive
def verify(workdir: str, remote: str | None) -> None:
    """Clone the remote fresh: every tip must be the rewritten tip, and the rescan clean."""
    from sanitize.purge.verify import verify as do_verify

    with _working("verifying: fresh clone of the remote, every ref, every purged object, rescan"):
        result = do_verify(workdir, remote=remote)
    _say(f"{result.remote}: every ref matches the rewrite, no purged object is reachable, nothing the plan "
         "removes is found again")
    if result.remaining is not None:
        _say(f"  {result.remaining.describe()}")
        for f in _first(result.remaining.unplanned):
            _say(f"    not in the plan: {f.rule} at {f.path or 'a message'} (preview {f.preview})")
    _say(f"  second opinion: {_second_opinion(dict(result.second_opinion))}")
    served = result.still_served
    if served:
        click.echo(f"warning: the server still serves {len(served)} old commit(s) by id until it collects garbage "
                   "(path remote: push --gc-remote; hosted: send notices/forge-support-request.md)")
    else:
        _say("the server no longer serves the old first-changed commits")


@click.group(cls=_Group)
def guard() -> None:
    """The re-contamination guard (server-side pre-receive hook)."""


@guard.command("install")
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", required=True, help="Path of the bare repository on the server.")
@_guard
@_exclusive
def guard_install(workdir: str, remote: str) -> None:
    """Install a pre-receive hook rejecting pushes that bring back purged objects."""
    from sanitize.purge.guard import install_guard

    hook = install_guard(workdir, remote)
    _say(f"pre-receive guard installed at {hook}")


@guard.command("check")
@click.option("--repo", default=".", type=click.Path(file_okay=False), show_default=True,
              help="The bare repository receiving the push (the hook runs inside it).")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), default=None, help="Extra content rules.")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None, help="Known findings to let through.")
@_guard
def guard_check(repo: str, rules_file: str | None, baseline: str | None) -> None:
    """Run by the pre-receive hook: scan what the push on stdin adds; exit 1 if it adds a secret."""
    from sanitize.purge.guard import check_push
    from sanitize.scan.formats import text as text_format

    report = check_push(repo, sys.stdin.read(), rules_file=rules_file, baseline=baseline)
    if not report.findings:
        return
    for f in report.findings:
        click.echo(f"git-sanitize guard: {text_format.line(f)}", err=True)
    refs = sorted({r for f in report.findings for r in f.refs}) or sorted(report.refs)
    click.echo(f"git-sanitize guard: rejected {', '.join(refs)}: {len(report.findings)} secret(s) in new content. "
               "Rewrite those commits without them and rotate the values: they have left your machine.", err=True)
    sys.exit(1)


@click.command(cls=_Command)
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def status(workdir: str, fmt: str) -> None:
    """Where a purge stands: plan digest, each stage, approvals, and what comes next."""
    import json

    from sanitize.playbook.runner import status as purge_status

    doc = purge_status(workdir)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"workdir:     {doc['workdir']}")
    click.echo(f"source:      {doc['source']}")
    click.echo(f"plan digest: {doc['plan_digest'] or '(no plan yet)'}")
    for name, rec in doc["stages"].items():
        when = rec.get("finished") or rec.get("started") or ""
        click.echo(f"  {name:<8} {rec['status']:<8} {when}")
    a = doc["approvals"]
    click.echo(f"approvals:   {a['valid']} of {a['required']} {', '.join(a['approvers'])}".rstrip())
    click.echo(f"next:        {doc['next']}")


@click.command(cls=_Command)
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--to", "to", type=click.Path(file_okay=False), default=None,
              help="New bare repository for the original history (default: WORKDIR/restored.git).")
@_guard
def restore(workdir: str, to: str | None) -> None:
    """Recover the original history, every ref, from WORKDIR/backup.bundle."""
    from sanitize.purge.restore import restore as do_restore

    result = do_restore(workdir, to)
    _say(f"restored {len(result.refs)} refs from the backup bundle into {result.path}")
