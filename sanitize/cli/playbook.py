"""``run PLAYBOOK``: every stage in order from the workdir's state (or a rotation-only playbook),
and ``run --check``, which validates everything the playbook names first."""

from __future__ import annotations

import sys

import click

from sanitize.cli.command import _VERBOSITY, _Command, _guard, _say, _terminal


@click.command(cls=_Command)
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.option("--check", "check_only", is_flag=True,
              help="Only validate the playbook and everything it names (source, workdir, roster, templates, "
                   "rules, baseline, approvals, rotation config and its environment); change nothing. Exit 2 if "
                   "any check fails.")
@_guard
def run(playbook: str, check_only: bool) -> None:
    """Run a purge playbook: every stage in order, resuming from the workdir's state.

    Every check of --check runs first: nothing starts unless all pass.
    Exits 3 at the approval gate; run it again after `approve` to resume at push.
    """
    from sanitize.playbook import config as playbook_config
    from sanitize.playbook import preflight
    from sanitize.playbook.runner import Runner

    def echo(line: str) -> None:
        _say(line, err=True)

    pb = playbook_config.load(playbook)
    checks = preflight.check_playbook(pb)
    if check_only:
        for c in checks:
            click.echo(c.line())
    preflight.raise_if_failed(checks, playbook, listed=check_only)
    if check_only:
        warned = sum(1 for c in checks if c.status == "warning")
        note = f" ({warned} warning(s) to read)" if warned else ""
        _say(f"all {len(checks)} checks passed{note}: `git-sanitize run {playbook}` can start")
        return
    if not pb.is_purge:
        # A rotation-only playbook (scheduled jobs): the rotation engine alone, as `rotate` would run it.
        from rotation.config import load_config
        from rotation.engine import rotate as do_rotate

        assert pb.rotate is not None  # parse() requires source or rotate
        summary = do_rotate(load_config(pb.rotate), mode=pb.rotate_mode, due=pb.due, log=click.echo)
        summary.raise_if_still_live("; each step's action says what to do, then `git-sanitize rotate --ack NAME`")
        _say(f"rotation done: {summary}")
        return
    result = Runner(pb, echo=echo, progress=_terminal(sys.stderr) and not _VERBOSITY.quiet).run()
    if result.clean:
        _say("clean: no secrets found in any ref's history")
    elif not result.ran:
        _say("nothing to do: every stage is done")
    else:
        _say(f"purge complete: {', '.join(result.ran)}")
