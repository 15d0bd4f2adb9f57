"""The remote's HEAD (its default branch) when its name held a leaked value.

A push renames such a branch (creates ``…redacted-<sha12>``, deletes the old name), but a push cannot
move a remote's HEAD, and receive-pack refuses to delete the branch HEAD names ("deletion of the
current branch prohibited"), so the atomic push would fail as a whole. And a HEAD left naming the old
branch hands the value to every fresh clone (protocol v2 advertises even a HEAD whose branch is gone).

* A bare repository on a local path is ours to fix: HEAD is pointed at the new name just before the
  atomic push (a symbolic ref may name a branch that does not exist yet) and put back if the push is
  refused, so the remote's refs still move all at once or not at all.
* Anywhere else (``git://``, ssh, https, a non-bare path) only the host's operator can move it: nothing
  is pushed and the error names the exact step (the forge's default-branch setting, or
  ``git symbolic-ref`` on the server). ``verify`` checks the HEAD a fresh clone gets, too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanitize import git
from sanitize.names import Redactor, is_shown
from sanitize.printable import printable
from sanitize.shellquote import quote


@dataclass(frozen=True)
class HeadMove:
    """The remote's HEAD names a branch whose name held a value: ``old`` → ``new`` (real names, never shown)."""

    target: git.Location
    old: str
    new: str
    shown_old: str
    ours: bool  # a bare repository on a local path: the push moves HEAD itself

    def apply(self) -> None:
        """Point the remote's HEAD at the new name (a bare local repository only)."""
        assert self.target.path is not None and self.ours
        git.set_head(self.target.path, self.new)

    def undo(self) -> None:
        """Put the remote's HEAD back where it was (the push was refused)."""
        assert self.target.path is not None and self.ours
        git.set_head(self.target.path, self.old)

    def operator_step(self) -> str:
        """The one sentence an operator acts on when only the host can move HEAD."""
        new = quote(self.new)
        return (f"the remote's HEAD (its default branch) is {printable(self.shown_old)}, a name that held a leaked "
                f"value; a push cannot move a remote's HEAD and the remote refuses to delete the branch it names, so "
                f"nothing was pushed. First make another existing branch the default (the forge's repository "
                f"settings, default branch; on a plain git server: git symbolic-ref HEAD {new} in the "
                f"repository), then push again; afterwards {new} can be made the default")


def needed(target: git.Location, red: Redactor) -> HeadMove | None:
    """The move the remote's HEAD needs, or None when its name holds no known value."""
    if not red:
        return None
    head = git.remote_head(target)
    if head is None:
        return None
    shown = red.show(head)
    if not is_shown(shown):
        return None
    new = red.rename(head.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
    ours = target.path is not None and git.is_bare(target.path)
    return HeadMove(target, head, new, shown, ours)


def holds_value(head: str | None, red: Redactor) -> str | None:
    """``head`` shown redacted if its name holds a known value (what verify reports), else None."""
    if head is None:
        return None
    shown = red.show(head)
    return shown if is_shown(shown) else None
