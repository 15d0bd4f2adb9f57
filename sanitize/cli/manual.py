"""What documents the command line itself: ``man`` (the roff manual page), ``completion`` (bash, zsh,
fish) and ``schema`` (each artifact's JSON schema)."""

from __future__ import annotations

import sys

import click

from sanitize import __version__
from sanitize.cli.command import _Command, _guard


@click.command("man", cls=_Command)
@click.option("--install", "install_it", is_flag=True,
              help="Write it to PREFIX/share/man/man1/git-sanitize.1 instead, for `man` and `git help sanitize`.")
@click.option("--prefix", type=click.Path(file_okay=False), default=None,
              help="Where to install (default: this Python's prefix, e.g. the venv).")
@_guard
def man_page(install_it: bool, prefix: str | None) -> None:
    """Print the manual page (roff), generated from this help."""
    from sanitize.cli import cli
    from sanitize.manpage import install, render

    text = render(cli, "git-sanitize", __version__)
    if not install_it:
        click.echo(text, nl=False)
        return
    try:
        dest = install(text, prefix or sys.prefix)
    except OSError as exc:
        from sanitize.errors import UsageError

        raise UsageError(f"cannot install the man page ({exc.strerror or exc.__class__.__name__}); "
                         "choose a writable --prefix") from exc
    click.echo(f"man page installed at {dest} (man git-sanitize, git help sanitize)")


@click.command("completion", cls=_Command)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@_guard
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    bash: eval "$(git-sanitize completion bash)" in ~/.bashrc; zsh: the same in ~/.zshrc;
    fish: git-sanitize completion fish > ~/.config/fish/completions/git-sanitize.fish
    """
    from click.shell_completion import get_completion_class

    from sanitize.cli import cli

    comp_cls = get_completion_class(shell)
    assert comp_cls is not None  # click ships all three
    click.echo(comp_cls(cli, {}, "git-sanitize", "_GIT_SANITIZE_COMPLETE").source())


@click.command("schema", cls=_Command)
@click.argument("name", metavar="NAME")
@_guard
def schema(name: str) -> None:
    """Print the JSON schema (draft 2020-12) of an artifact: findings, plan, rewrite-record, rewrite-report,
    approval, state, rotation-run."""
    from sanitize.artifacts.schemas import schema_text

    click.echo(schema_text(name), nl=False)
