"""The ``git-sanitize`` command line: parses, dispatches, prints, exits.

This is the only module that prints results or exits. Stages raise
:class:`~sanitize.errors.SanitizeError` subclasses; ``_guard`` turns them into
one clear line on stderr and the documented exit code:
0 ok/clean, 1 findings remain or verification failed, 2 bad input, 3 awaiting approval.
"""

from __future__ import annotations

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
        except KeyboardInterrupt:
            _fatal("interrupted; re-run the same command to resume", 130)

    return wrapper  # type: ignore[return-value]


class _Group(click.Group):
    """Click usage errors exit 2 with one line (click's default already does)."""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-sanitize")
def cli() -> None:
    """Purge secrets from every ref of a git history, then rotate what leaked."""


# --- scan (issue 2) -----------------------------------------------------------------
# (scan command is added here)


# --- plan / rewrite (issue 3) -------------------------------------------------------


# --- notify / approve / push / verify / guard / migrate (issue 4) --------------------


# --- rotate (issue 5) ---------------------------------------------------------------


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
