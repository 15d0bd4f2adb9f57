"""The commands about the people whose clones hold the old history: ``notify`` (stage 4, run by
the purge's lead) and ``migrate`` (run by each collaborator in their own clone)."""

from __future__ import annotations

import click

from sanitize.cli.command import _Command, _exclusive, _guard, _one_line, _say, _working


@click.command(cls=_Command)
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
    from sanitize.collaborator.notify import DEFAULT_SENDER
    from sanitize.collaborator.notify import notify as do_notify

    with _working("writing the notices"):
        result = do_notify(workdir, roster=roster, templates=templates, deadline=deadline, freeze=freeze,
                           sender=sender or DEFAULT_SENDER)
    _say(f"{len(result.collaborators)} notices (Markdown, .eml, text) in {result.team_summary.parent}")
    if result.not_notified:
        _say(f"{len(result.not_notified)} bot or no-reply identities listed in the team summary, not notified")
    _say(f"team summary: {result.team_summary}")
    _say(f"forge support request: {result.support_request}")
    _say(f"publish for collaborators (migrate): {result.team_summary.parent / 'publish'}")


@click.command(cls=_Command)
@click.option("--commit-map", "commit_map", required=True,
              help="The published commit-map (file path or http(s) URL).")
@click.option("--purged", default=None,
              help="The published purged.json (default: beside the commit-map when it is a file).")
@click.option("--repo", default=".", type=click.Path(file_okay=False), show_default=True, help="Your clone.")
@click.option("--finish", is_flag=True,
              help="After migrating: check every migrated branch, tag and stash is in place, then delete the "
                   "backups, expire reflogs, prune, and prove no old commit is left.")
@_guard
def migrate(commit_map: str, purged: str | None, repo: str, finish: bool) -> None:
    """Collaborator side: carry unpushed commits, tags, stashes and uncommitted changes onto the rewritten history."""
    import shlex

    from sanitize.collaborator.migrate import finish as do_finish
    from sanitize.collaborator.migrate import migrate as do_migrate

    again = f"git-sanitize migrate --finish --commit-map {shlex.quote(commit_map)}"
    if finish:
        done = do_finish(repo, commit_map=commit_map)
        _say(f"deleted {done.backups_deleted} backup ref(s), expired reflogs and pruned; self-check passed: "
             f"none of the {done.old_commits_checked} old commit(s) is left in this clone")
        return
    result = do_migrate(repo, commit_map=commit_map, purged=purged)
    if not result.checked_purged:
        click.echo("warning: no purged.json: local work was not checked for removed files or values", err=True)
    for m in result.branches:
        what = f"{m.commits} local commit(s) moved onto {m.new_base[:12]}" if m.commits else "moved"
        _say(f"branch {_one_line(m.branch)}: {what}; now {m.new_tip[:12]} (old tip kept in {_one_line(m.backup_ref)})")
    for t in result.tags:
        _say(f"tag {_one_line(t.tag)}: now {t.new[:12]} (old one kept in {_one_line(t.backup_ref)})")
    for old_name, new_name in result.renamed.items():
        _say(f"renamed {old_name} to {_one_line(new_name)}: the old name held a leaked value")
    for s in result.stashes:
        _say(("uncommitted changes: carried over" if s.dirty else f"stash@{{{s.index}}}: re-based")
             + f" ({s.new[:12]})")
    if not result.restored_dirty:
        click.echo("your uncommitted changes did not apply cleanly: they are in git stash list (stash@{0})", err=True)
    if not (result.branches or result.tags or result.stashes or result.renamed):
        _say("nothing in this clone is on the old history; nothing to move")
    _say(f"next: check your branches (git log), then run: {again}")
