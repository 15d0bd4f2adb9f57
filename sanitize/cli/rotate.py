"""``rotate``: credential response after a purge, or on a schedule (--print-schedule writes the job),
with --ack for what was done by hand and --revoke for tokens no target can rotate."""

from __future__ import annotations

import sys
from typing import Any

import click

from sanitize.cli.command import _VERBOSITY, _Command, _detail, _guard, _say, _terminal
from sanitize.errors import SanitizeError


@click.command(cls=_Command)
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
@click.option("--image", default=None, metavar="IMAGE",
              help="Container image for --print-schedule k8s (default: git-sanitize:VERSION, as the Dockerfile "
                   "builds it).")
@click.option("--schedule", "when", default=None, metavar="EXPR",
              help="With --print-schedule: when to run, in that kind's syntax (cron fields, or a systemd "
                   "OnCalendar expression). Default: daily at 03:17 UTC.")
@click.option("--user", "run_as", default=None, metavar="USER",
              help="With --print-schedule cron/systemd: the account the job runs as (default: git-sanitize).")
@click.option("--env-file", "env_file", default=None, metavar="PATH",
              help="With --print-schedule cron/systemd: the 0600 file holding VAULT_TOKEN, admin DSNs, AWS_* "
                   "(default: /etc/git-sanitize/rotation.env).")
@click.option("--ack", "acks", multiple=True, metavar="NAME",
              help="Record that NAME (a secret, or an exposed finding as the summary names it) was revoked or "
                   "replaced by hand; rotate nothing. Repeatable; goes to the audit log.")
@click.option("--note", default="", help="With --ack: a short note for the audit log (a ticket id, who did it).")
@click.option("--revoke", is_flag=True,
              help="Revoke GitHub, GitLab and Slack tokens no target can rotate at the provider's API, after a "
                   "confirmation per token; each counts as revoked only once the provider refuses it.")
@click.option("--yes", "assume_yes", is_flag=True,
              help="With --revoke: confirm every revocation without asking (unattended runs).")
@click.option("--workdir", "workdir", default=None, type=click.Path(file_okay=False),
              help="The purge's workdir (its findings.json unless --findings names one): with --revoke, also "
                   "revoke the GitHub, GitLab and Slack tokens found only in the history, whose values its "
                   "plan.secrets holds (read only). A --findings file beside a plan.json implies it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None,
              help="table: one row per credential (default on a terminal); json: one log line per step and a "
                   "summary line (default in a pipe).")
@_guard
def rotate(config_path: str, mode: str, due: bool, only: tuple[str, ...], findings: str | None, dry_run: bool,
           audit_log: str | None, print_schedule: str | None, image: str | None, when: str | None,
           run_as: str | None, env_file: str | None, acks: tuple[str, ...], note: str, fmt: str | None,
           revoke: bool, assume_yes: bool, workdir: str | None) -> None:
    """Rotate secrets in Vault / AWS Secrets Manager (and their databases).

    On a terminal a table of every credential's final state; in a pipe (or --format json)
    JSON log lines. Exit 0 when every exposed credential is rotated or revoked, 1 while any is still live.
    """
    import json
    import shlex

    table = (fmt or ("table" if _terminal() else "json")) == "table"

    if print_schedule:
        from pathlib import Path

        from rotation.schedule_templates import render_schedule
        from sanitize.errors import UsageError

        if image is not None and print_schedule != "k8s":
            raise UsageError("--image applies to --print-schedule k8s only")
        if print_schedule == "k8s" and (run_as is not None or env_file is not None):
            raise UsageError("--user and --env-file apply to --print-schedule cron/systemd (the CronJob runs as "
                             "the image's uid and reads a Kubernetes Secret)")
        options = {"image": image, "schedule": when, "user": run_as, "env_file": env_file}
        extra = {k: v for k, v in options.items() if v is not None}
        click.echo(render_schedule(print_schedule, str(Path(config_path).resolve()), **extra), nl=False)
        return
    for flag, value in (("--schedule", when), ("--user", run_as), ("--env-file", env_file)):
        if value is not None:
            from sanitize.errors import UsageError

            raise UsageError(f"{flag} applies to --print-schedule only")

    _revoke_usage(revoke, assume_yes, mode, bool(acks), dry_run)

    from rotation.config import load_config
    from rotation.engine import rotate as do_rotate
    from sanitize.audit import AuditLog

    config = load_config(config_path)
    history = None
    if not acks and (workdir is not None or revoke):
        from rotation.revocation.history import history_values, resolve

        source = resolve(workdir, findings)
        if source is not None:
            findings = str(source.findings)
            history = history_values(source) if revoke else None
    if acks:
        from rotation.engine import acknowledge

        for ack in acknowledge(config, list(acks), note=note, audit=AuditLog(audit_log) if audit_log else None):
            if table:
                _say(f"acknowledged {ack.name} as done by hand ({ack.actor}, {ack.ts}); recorded in the audit log")
            else:
                click.echo(json.dumps({"step": "ack", "status": "acknowledged", "secret": ack.name,
                                       "actor": ack.actor, "ts": ack.ts, "note": ack.note}))
        return

    def summarise(summary: Any, status: str) -> None:
        if not table:
            click.echo(json.dumps({"step": "summary", "status": status, **summary.to_dict()}))
        elif not _VERBOSITY.quiet or status != "ok":
            from rotation.terminal import render

            click.echo(render(summary, f"git-sanitize rotate --config {shlex.quote(config_path)} --ack"), nl=False)

    def step(record: str) -> None:
        if not table:
            click.echo(record)
        else:
            from rotation.terminal import step_line

            _detail(step_line(json.loads(record)), err=True)

    try:
        summary = do_rotate(config, mode=mode, due=due, only=list(only) or None, findings=findings,
                            dry_run=dry_run, audit=AuditLog(audit_log) if audit_log else None, log=step,
                            revoke=revoke, confirm=_revoke_confirmation(assume_yes), history=history)
    except SanitizeError as exc:
        failed = getattr(exc, "summary", None)  # the run finished but some secrets failed: still summarise
        if failed is not None:
            summarise(failed, "failed")
        raise
    if summary.still_live:
        summarise(summary, "still live")
        summary.raise_if_still_live(" (each summary outcome's action says what to do)")
    summarise(summary, "ok")


def _revoke_usage(revoke: bool, assume_yes: bool, mode: str, acks: bool, dry_run: bool) -> None:
    """--revoke revokes for good: only in compromised mode, and only with someone (or --yes) to confirm."""
    from sanitize.errors import UsageError

    if assume_yes and not revoke:
        raise UsageError("--yes applies to --revoke only")
    if not revoke:
        return
    if mode != "compromised":
        raise UsageError("--revoke applies to --mode compromised only (a scheduled run rotates, it never revokes)")
    if acks:
        raise UsageError("--revoke and --ack are separate runs: --ack records what was done by hand")
    if not assume_yes and not dry_run and not (_terminal(sys.stdin) and _terminal(sys.stderr)):
        raise UsageError("--revoke asks before revoking each token: run it on a terminal, or pass --yes for an "
                         "unattended run")


def _revoke_confirmation(assume_yes: bool) -> Any:
    """The engine's ``confirm``: a y/N prompt per token on stderr (or every token with --yes)."""
    def confirm(candidates: list[Any]) -> set[str]:
        if assume_yes:
            for c in candidates:
                _say(f"revoking {c.describe()} (confirmed by --yes)", err=True)
            return {c.name for c in candidates}
        click.echo(f"--revoke: {len(candidates)} token(s) can be revoked at their provider. A revoked token "
                   "cannot be restored: every user of it needs a new one.", err=True)
        return {c.name for c in candidates
                if click.confirm(f"Revoke {c.describe()}?", default=False, err=True)}

    return confirm
