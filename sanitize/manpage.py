"""The manual page, generated from the click commands' own help, so it cannot drift from ``--help``.

``git-sanitize man`` prints it; ``git-sanitize man --install`` writes it to
``<prefix>/share/man/man1/git-sanitize.1`` (the venv or Python prefix by
default), where ``man`` looks for the pages of commands on ``PATH`` — so
``man git-sanitize`` and ``git help sanitize`` work from then on. It is
generated rather than shipped so it can never disagree with ``--help``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

EXIT_STATUS = (
    ("0", "ok, clean"),
    ("1", "findings remain, or a verification failed"),
    ("2", "bad input or usage (one line on stderr, never a traceback)"),
    ("3", "waiting for approval"),
)


def _esc(text: str) -> str:
    """Text safe for roff: backslashes and hyphens escaped, no line starting with a control character."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in out.splitlines())


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _commands(group: click.Group, ctx: click.Context, prefix: str) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        full = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, click.Context(cmd, info_name=name, parent=ctx), full))
        else:
            out.append((full, cmd))
    return out


def render(cli: click.Group, name: str, version: str) -> str:
    """The roff source of ``name``'s man page (section 1)."""
    ctx = click.Context(cli, info_name=name)
    summary = (cli.help or "").strip().splitlines()[0] if cli.help else name
    lines = [f'.TH "{name.upper()}" "1" "" "{name} {version}" "Git Manual"', ".SH NAME",
             f"{_esc(name)} \\- {_esc(summary.rstrip('.'))}", ".SH SYNOPSIS",
             f".B {_esc(name)}", "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]", ".PP",
             f"Also runs as \\fBgit {_esc(name.removeprefix('git-'))}\\fR.", ".SH COMMANDS"]
    for full, cmd in _commands(cli, ctx, name):
        sub = click.Context(cmd, info_name=full.split(" ", 1)[1], parent=ctx)
        usage = " ".join(cmd.collect_usage_pieces(sub))
        lines += [f'.SS "{_esc(full)} {_esc(usage)}"']
        for para in _paragraphs(cmd.help or ""):
            lines += [_esc(para), ".PP"]
        help_option = cmd.get_help_option(sub)
        for param in cmd.get_params(sub):
            if not isinstance(param, click.Option) or param is help_option:
                continue
            record = param.get_help_record(sub)
            if record is None:
                continue
            opts, help_text = record
            lines += [".TP", f"\\fB{_esc(opts)}\\fR", _esc(" ".join(help_text.split())) or "\\&"]
    lines += [".SH EXIT STATUS"]
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", _esc(meaning)]
    lines += [".SH SEE ALSO", "\\fBgit\\-filter\\-repo\\fR(1), \\fBgithooks\\fR(5), and the README shipped with the "
              "package (\"Keep it out\", \"For collaborators\")."]
    return "\n".join(lines) + "\n"


def install(text: str, prefix: str | os.PathLike[str]) -> Path:
    """Write the page to ``prefix/share/man/man1/git-sanitize.1``; returns its path."""
    dest = Path(prefix) / "share" / "man" / "man1" / "git-sanitize.1"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dest)
    return dest
