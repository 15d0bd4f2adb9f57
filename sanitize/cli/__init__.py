"""The ``git-sanitize`` command line: parses, dispatches, prints, exits.

This package is the only layer that prints results or exits. Stages raise
:class:`~sanitize.errors.SanitizeError` subclasses; ``_guard`` (command.py) turns them into
one clear line on stderr and the documented exit code:
0 ok/clean, 1 findings remain or verification failed, 2 bad input, 3 awaiting approval.

One module per part of the procedure: scan.py (scan, org, config), purge.py (plan to
verify, guard, status, restore), collaborator.py (notify, migrate), rotate.py, playbook.py
(run) and manual.py (man, completion, schema); command.py holds what they share.
"""

from __future__ import annotations

import click

from sanitize import __version__
from sanitize.cli import collaborator, manual, playbook, purge, rotate, scan
from sanitize.cli.command import _VERBOSITY, _Group


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-sanitize")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and what a script needs.")
@click.option("-v", "--verbose", is_flag=True, help="Print every item, not only counts and the first few.")
def cli(quiet: bool, verbose: bool) -> None:
    """Purge secrets from every ref of a git history, then rotate what leaked."""
    _VERBOSITY.quiet, _VERBOSITY.verbose = quiet, verbose


# In the order of the procedure (`--help` lists them by name).
for _command in (scan.scan, scan.org_group, scan.config_group,
                 purge.plan, purge.rewrite, collaborator.notify, collaborator.migrate,
                 purge.approve, purge.push, purge.verify, purge.guard,
                 rotate.rotate, playbook.run, purge.status, purge.restore,
                 manual.man_page, manual.completion, manual.schema):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="git-sanitize")
