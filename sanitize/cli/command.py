"""What every command shares: the error guard, the workdir lock, -q/-v and the lines a person reads.

``_guard`` turns a :class:`~sanitize.errors.SanitizeError` into one clear line on stderr and its
exit code; ``_say``/``_detail``/``_first``/``_working`` honour --quiet and --verbose. Every command
of the package is a ``_Command`` (or, for a group, a ``_Group``), so each takes -q/-v too.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from sanitize.errors import SanitizeError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _one_line(message: str) -> str:
    """A message fit for one terminal line: a control character (a newline in a path or a ref name,
    an escape sequence, a bidi override) is shown escaped, never acted on."""
    from sanitize.printable import printable

    return printable(message)


def _fatal(message: str, code: int) -> NoReturn:
    click.echo(f"git-sanitize: {_one_line(message)}", err=True)
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


class _Verbosity:
    """``--quiet`` / ``--verbose`` for this invocation (before or after the command name)."""

    quiet = False
    verbose = False


_VERBOSITY = _Verbosity()


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and param.name:
        setattr(_VERBOSITY, param.name, True)


def _verbosity_options() -> list[click.Option]:
    return [click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_verbosity,
                         help="Print only errors and what a script needs (results stay in files and exit codes)."),
            click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_set_verbosity,
                         help="Print every item, not only counts and the first few.")]


class _Command(click.Command):
    """Every command takes -q/--quiet and -v/--verbose (a command may declare its own to read them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared = {p.name for p in self.params}
        self.params += [o for o in _verbosity_options() if o.name not in declared]


class _Group(click.Group):
    command_class = _Command
    group_class = type  # sub-groups are _Group too, so their commands get the options


def _say(line: str, *, err: bool = False) -> None:
    """A result line for a person: left out with --quiet."""
    if not _VERBOSITY.quiet:
        click.echo(line, err=err)


def _detail(line: str, *, err: bool = False) -> None:
    """A line only --verbose shows."""
    if _VERBOSITY.verbose and not _VERBOSITY.quiet:
        click.echo(line, err=err)


def _first(items: Sequence[T]) -> Sequence[T]:
    """The first few of a long list; all of them with --verbose."""
    return items if _VERBOSITY.verbose else items[:5]


def _working(label: str) -> Any:
    """A spinner on stderr while a long step runs, when a person watches (not with --quiet or in a pipe)."""
    if _VERBOSITY.quiet or not _terminal(sys.stderr):
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(label)


def _terminal(stream: Any = None) -> bool:
    """Whether a person reads this stream (stdout by default)."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())
