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
