"""The ``git-sanitize`` command line: parses, dispatches, prints, exits.

This is the only module that prints results or exits. Stages raise
:class:`~sanitize.errors.SanitizeError` subclasses; ``_guard`` turns them into
one clear line on stderr and the documented exit code:
0 ok/clean, 1 findings remain or verification failed, 2 bad input, 3 awaiting approval.
"""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from sanitize import __version__
from sanitize.errors import SanitizeError

F = TypeVar("F", bound=Callable[..., Any])


def _fatal(message: str, code: int) -> NoReturn:
    click.echo(f"git-sanitize: {message}", err=True)
    sys.exit(code)


def _guard(func: F) -> F:
    """Map our errors to one line + exit code; never a traceback for bad input."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SanitizeError as exc:
            _fatal(str(exc), exc.exit_code)
        except OSError as exc:
            # The machine, not the input: a full or read-only disk. Every write is a rename of a
            # complete temporary, so what was there before is still there.
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise
            where = f" writing {exc.filename}" if exc.filename else ""
            _fatal(f"{exc.strerror}{where}; files are written whole or not at all: free space and run the same "
                   "command again", 2)
        except KeyboardInterrupt:
            _fatal("interrupted; re-run the same command to resume", 130)

    return wrapper  # type: ignore[return-value]


def _exclusive(func: F) -> F:
    """Hold the ``--workdir``'s lock while the command runs: two stages never interleave in one purge."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sanitize.workdir import hold

        with hold(kwargs.get("workdir")):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-sanitize")
def cli() -> None:
    """Purge secrets from every ref of a git history, then rotate what leaked."""


# --- scan -------------------------------------------------------------------------


@cli.command()
@click.argument("source", default=".", required=False)
@click.option("--format", "fmt", type=click.Choice(["json", "sarif", "markdown", "text"]), default=None,
              help="Report format (default: json into a file or a pipe, text on a terminal).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to FILE (mode 0600) instead of stdout.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), default=None,
              help="Extra content rules (YAML or TOML list of {id, regex, keywords, secret_group}).")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="Suppress known findings (our findings JSON or a detect-secrets baseline).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: 2 or fewer).")
@_guard
def scan(source: str, fmt: str | None, output: str | None, rules_file: str | None, baseline: str | None,
         jobs: int | None) -> None:
    """Scan every object reachable from every ref of SOURCE (path or URL; default .).

    Exit 0 when clean, 1 when there are findings, 2 on bad input.
    """
    from pathlib import Path

    from sanitize.errors import UsageError
    from sanitize.scan.engine import scan_repository

    if output and not Path(output).parent.is_dir():
        raise UsageError(f"{output}: its directory does not exist")
    report = scan_repository(source, rules_file=rules_file, baseline=baseline, jobs=jobs,
                             progress=sys.stderr.isatty())
    fmt = fmt or ("json" if output or not sys.stdout.isatty() else "text")
    from sanitize.scan.formats import render

    text = render(report, fmt)
    if output:
        from sanitize.workdir import write_private

        try:
            write_private(Path(output), text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"{output}: cannot write the report ({exc.strerror or exc.__class__.__name__})") from exc
    else:
        click.echo(text, nl=not text.endswith("\n"))
    if report.findings:
        sys.exit(1)


# --- plan / rewrite ---------------------------------------------------------------
@cli.command()
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
    from sanitize.blast_radius import describe
    from sanitize.errors import UsageError
    from sanitize.plan import make_plan

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
    click.echo(f"plan {p.digest} written to {p.path} (review {p.markdown_path}; values in {p.secrets_path}, 0600)")
    click.echo(f"  {s['delete_paths']} path(s) to delete, {s['replacements']} value(s) to replace, "
               f"{s['messages']} message(s) to reword, {s['fix_in_code']} fix-in-code item(s)")
    click.echo(f"  will change: {describe(s)}")
    if s.get("held_back_values"):
        click.echo(f"  {s['held_back_values']} low-confidence value(s) in tests/docs/examples/vendored code held "
                   f"back, not rewritten: review them in {p.markdown_path} (--include FINDING_ID to purge one)")


@cli.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir (0700).")
@click.option("--rules", "rules_file", default=None, type=click.Path(dir_okay=False),
              help="Rules file for the rescan (default: the one recorded in the plan, else the built-in rules).")
@click.option("--progress/--no-progress", default=False, help="Show git-filter-repo progress on stderr.")
@_guard
@_exclusive
def rewrite(plan_path: str, workdir: str, rules_file: str | None, progress: bool) -> None:
    """Apply PLAN to a fresh mirror in WORKDIR with git-filter-repo; exit 1 unless the rescan is clean."""
    from sanitize.blast_radius import describe
    from sanitize.rewrite import rewrite as do_rewrite

    result = do_rewrite(plan_path, workdir, progress=progress, rules_file=rules_file)
    r = result.report
    click.echo(f"rewrote {describe(r['blast_radius']['result'])}; "
               f"{len(r['paths_removed'])} path(s) removed, {len(r['replacements'])} value(s) replaced; "
               f"verification clean")
    click.echo(f"  mirror: {result.mirror}  report: {result.workdir / 'rewrite-report.md'}")



# --- notify / approve / push / verify / guard / migrate ----------------------------


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--roster", type=click.Path(dir_okay=False), default=None,
              help="CSV (name,email,role) of people to notify beyond the history's authors.")
@click.option("--templates", type=click.Path(file_okay=False), default=None,
              help="Directory of notice templates overriding the built-in ones (same file names).")
@click.option("--deadline", default=None, help="Date by which every clone must be fresh or reset.")
@click.option("--freeze", default=None, help="The freeze window, as the notices should state it.")
@click.option("--from", "sender", default=None, help="From: address of the .eml notices.")
@_guard
@_exclusive
def notify(workdir: str, roster: str | None, templates: str | None, deadline: str | None, freeze: str | None,
           sender: str | None) -> None:
    """Render a notice per collaborator (Markdown, .eml, text), a team summary and the forge request."""
    from sanitize.notify import DEFAULT_SENDER
    from sanitize.notify import notify as do_notify

    result = do_notify(workdir, roster=roster, templates=templates, deadline=deadline, freeze=freeze,
                       sender=sender or DEFAULT_SENDER)
    click.echo(f"{len(result.collaborators)} notices (Markdown, .eml, text) in {result.team_summary.parent}")
    click.echo(f"team summary: {result.team_summary}")
    click.echo(f"forge support request: {result.support_request}")
    click.echo(f"publish for collaborators (migrate): {result.team_summary.parent / 'publish'}")


@cli.command()
@click.option("--commit-map", "commit_map", required=True,
              help="The published commit-map (file path or http(s) URL).")
@click.option("--purged", default=None,
              help="The published purged.json (default: beside the commit-map when it is a file).")
@click.option("--repo", default=".", type=click.Path(file_okay=False), show_default=True, help="Your clone.")
@_guard
def migrate(commit_map: str, purged: str | None, repo: str) -> None:
    """Collaborator side: rebase your unpushed local commits onto the rewritten history."""
    from sanitize.migrate import migrate as do_migrate

    result = do_migrate(repo, commit_map=commit_map, purged=purged)
    if not result.checked_purged:
        click.echo("warning: no purged.json: local work was not checked for removed files or values", err=True)
    for m in result.moved:
        click.echo(f"{m.branch}: {m.commits} local commit(s) moved onto {m.new_base[:12]}; "
                   f"now {m.new_tip[:12]} (old tip kept in {m.backup_ref})")
    if not result.moved:
        click.echo("no local branch is on the old history; nothing to move")
    else:
        click.echo("check the moved branches, push them, then delete the backup refs (they hold old history): "
                   "git for-each-ref --format='delete %(refname)' refs/sanitize-backup/ | git update-ref --stdin")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--approver", required=True, help="Your name, as it goes in the audit log.")
@click.option("--digest", required=True, help="The full plan digest you reviewed (plan.json 'digest').")
@click.option("--key", type=click.Path(dir_okay=False), default=None,
              help="Sign the approval with this SSH private key (checked against the purge's allowed_signers).")
@click.option("--expires", default=None, help="How long the approval holds (30m, 24h, 7d; default: the playbook's, "
              "else 24h).")
@_guard
@_exclusive
def approve(workdir: str, approver: str, digest: str, key: str | None, expires: str | None) -> None:
    """Approve the force-push of the exact plan digest and the current rewritten tips."""
    from sanitize.approval import ApprovalPolicy, approvers_of, describe_approval, judge
    from sanitize.approval import approve as do_approve
    from sanitize.workdir import Workdir

    wd = Workdir.open(workdir)
    a = do_approve(workdir, approver=approver, digest=digest, key=key,
                   expires=expires or str(wd.meta().get("approval_expires", "24h")))
    click.echo(f"{describe_approval(workdir, a)}; until {a.expires}")
    policy = ApprovalPolicy.from_meta(wd.meta().get("approval_policy"))
    if policy is not None:
        click.echo(f"{len(approvers_of(judge(workdir, policy)))} distinct valid approver(s) now "
                   f"(counted: {policy.describe()})")


@cli.command()
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

    from sanitize.approval import ApprovalPolicy
    from sanitize.push import push as do_push

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
    elif result.already_pushed:
        click.echo(f"{result.remote} already holds the rewritten refs; nothing to push")
    else:
        click.echo(f"pushed {len(result.changed)} ref update(s) to {result.remote} "
                   f"(approved by {', '.join(result.approvers)})")
    for ref in result.hidden_refs:
        click.echo(f"  left out (host-managed, read-only): {ref} — see notices/forge-support-request.md")
    if result.gc_done:
        click.echo("  expired reflogs and pruned unreachable objects on the remote")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", default=None, help="The remote to check (default: the plan's source).")
@_guard
@_exclusive
def verify(workdir: str, remote: str | None) -> None:
    """Clone the remote fresh: every tip must be the rewritten tip, and the rescan clean."""
    from sanitize.verify import verify as do_verify

    result = do_verify(workdir, remote=remote)
    click.echo(f"{result.remote}: every ref matches the rewrite, no purged object is reachable, the rescan is clean")
    served = result.still_served
    if served:
        click.echo(f"warning: the server still serves {len(served)} old commit(s) by id until it collects garbage "
                   "(path remote: push --gc-remote; hosted: send notices/forge-support-request.md)")
    else:
        click.echo("the server no longer serves the old first-changed commits")


@cli.group()
def guard() -> None:
    """The re-contamination guard (server-side pre-receive hook)."""


@guard.command("install")
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--remote", required=True, help="Path of the bare repository on the server.")
@_guard
@_exclusive
def guard_install(workdir: str, remote: str) -> None:
    """Install a pre-receive hook rejecting pushes that bring back purged objects."""
    from sanitize.guard import install_guard

    hook = install_guard(workdir, remote)
    click.echo(f"pre-receive guard installed at {hook}")


# --- rotate -----------------------------------------------------------------------


@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="rotation.yml: the backend and the secrets to rotate.")
@click.option("--mode", type=click.Choice(["compromised", "scheduled"]), default="compromised", show_default=True,
              help="compromised: no grace for the old value, prove it dead; scheduled: keep the previous version.")
@click.option("--due", is_flag=True, help="Only secrets older than their max_age (nothing due: exit 0).")
@click.option("--only", "only", multiple=True, metavar="NAME", help="Rotate only this secret (repeatable).")
@click.option("--findings", type=click.Path(dir_okay=False), default=None,
              help="A scan's findings JSON: report stored secrets exposed in history and rotate them first.")
@click.option("--dry-run", is_flag=True, help="Say what would rotate; change nothing.")
@click.option("--audit-log", type=click.Path(dir_okay=False), default=None,
              help="Append-only audit log (default: the config's audit_log, else ./rotation-audit.log).")
@click.option("--print-schedule", "print_schedule", type=click.Choice(["cron", "systemd", "k8s"]), default=None,
              help="Print a crontab line, systemd service+timer, or Kubernetes CronJob that runs "
                   "`rotate --mode scheduled --due` with this config; rotate nothing.")
@click.option("--ack", "acks", multiple=True, metavar="NAME",
              help="Record that NAME (a secret, or an exposed finding as the summary names it) was revoked or "
                   "replaced by hand; rotate nothing. Repeatable; goes to the audit log.")
@click.option("--note", default="", help="With --ack: a short note for the audit log (a ticket id, who did it).")
@_guard
def rotate(config_path: str, mode: str, due: bool, only: tuple[str, ...], findings: str | None, dry_run: bool,
           audit_log: str | None, print_schedule: str | None, acks: tuple[str, ...], note: str) -> None:
    """Rotate secrets in Vault / AWS Secrets Manager (and their databases); JSON log lines on stdout.

    Exit 0 when every exposed credential is rotated or revoked, 1 while any is still live.
    """
    import json

    if print_schedule:
        from pathlib import Path

        from rotation.schedule_templates import render_schedule

        click.echo(render_schedule(print_schedule, str(Path(config_path).resolve())), nl=False)
        return

    from rotation.config import load_config
    from rotation.engine import rotate as do_rotate
    from sanitize.audit import AuditLog

    config = load_config(config_path)
    if acks:
        from rotation.engine import acknowledge

        for ack in acknowledge(config, list(acks), note=note, audit=AuditLog(audit_log) if audit_log else None):
            click.echo(json.dumps({"step": "ack", "status": "acknowledged", "secret": ack.name, "actor": ack.actor,
                                   "ts": ack.ts, "note": ack.note}))
        return
    try:
        summary = do_rotate(config, mode=mode, due=due, only=list(only) or None, findings=findings,
                            dry_run=dry_run, audit=AuditLog(audit_log) if audit_log else None, log=click.echo)
    except SanitizeError as exc:
        failed = getattr(exc, "summary", None)  # the run finished but some secrets failed: still summarise
        if failed is not None:
            click.echo(json.dumps({"step": "summary", "status": "failed", **failed.to_dict()}))
        raise
    if summary.still_live:
        from rotation.errors import StillLive

        click.echo(json.dumps({"step": "summary", "status": "still live", **summary.to_dict()}))
        raise StillLive(f"{len(summary.still_live)} exposed credential(s) still live: "
                        f"{', '.join(summary.still_live)} (each summary outcome's action says what to do)")
    click.echo(json.dumps({"step": "summary", "status": "ok", **summary.to_dict()}))


# --- run / status / restore (issues 6, 7) -------------------------------------------


@cli.command()
@click.argument("playbook", type=click.Path(dir_okay=False))
@_guard
def run(playbook: str) -> None:
    """Run a purge playbook: every stage in order, resuming from the workdir's state.

    Exits 3 at the approval gate; run it again after `approve` to resume at push.
    """
    from sanitize import playbook_config
    from sanitize.playbook import Runner

    def echo(line: str) -> None:
        click.echo(line, err=True)

    result = Runner(playbook_config.load(playbook), echo=echo, progress=sys.stderr.isatty()).run()
    if result.clean:
        click.echo("clean: no secrets found in any ref's history")
    elif not result.ran:
        click.echo("nothing to do: every stage is done")
    else:
        click.echo(f"purge complete: {', '.join(result.ran)}")


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def status(workdir: str, fmt: str) -> None:
    """Where a purge stands: plan digest, each stage, approvals, and what comes next."""
    import json

    from sanitize.playbook import status as purge_status

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


@cli.command()
@click.option("--workdir", required=True, type=click.Path(file_okay=False), help="The purge's workdir.")
@click.option("--to", "to", type=click.Path(file_okay=False), default=None,
              help="New bare repository for the original history (default: WORKDIR/restored.git).")
@_guard
def restore(workdir: str, to: str | None) -> None:
    """Recover the original history, every ref, from WORKDIR/backup.bundle."""
    from sanitize.restore import restore as do_restore

    result = do_restore(workdir, to)
    click.echo(f"restored {len(result.refs)} refs from the backup bundle into {result.path}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="git-sanitize")


if __name__ == "__main__":
    main()
