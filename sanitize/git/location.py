"""Where a repository is: a local path or a URL, shown redacted, its credentials kept in memory only.

A URL may carry a token (``https://user:TOKEN@host/repo.git``). A
:class:`Location` holds the real address for the git commands of this process
and shows only the redacted form (``https://***@host/repo.git``): that is what
``str()``, ``repr()``, state files, reports and messages get. Git never sees the
credentials on its command line either: the URL it is given has no user info,
and the user name and password reach it through a credential helper that reads
them from its environment — so the clone's ``config`` holds no token, and
git's own credential store is not asked to keep one.

A later stage that finds only the redacted form on disk gets the address back
from where it came (the playbook, read again; ``--remote``), or takes the user
info from :data:`CREDENTIALS_ENV`, or leaves it to git's own credential helper.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from sanitize.errors import UsageError

if TYPE_CHECKING:
    pass

CREDENTIALS_ENV = "GIT_SANITIZE_URL_CREDENTIALS"  # USER:TOKEN for a URL whose user info was not stored
REDACTED = "***"

_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|[^/\s:@]+@[^/\s:]+:)")
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://([^/@\s]*)@")
# For display, user info may even hold a raw "/" (a token pasted unencoded): hide up to the "@" then too.
_SHOWN_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://([^@\s]*)@")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
# The helper git runs for a URL whose credentials we hold: it answers "get" from its environment.
_HELPER = ('!f() { test "$1" = get || return 0; '
           'printf "username=%s\\npassword=%s\\n" "$GIT_SANITIZE_USERNAME" "$GIT_SANITIZE_PASSWORD"; }; f')


def is_url(location: str) -> bool:
    """A URL (``scheme://`` or scp-like ``user@host:path``) rather than a local path."""
    return bool(_URL.match(location)) and not Path(location).exists()


def _is_secret(scheme: str, userinfo: str) -> bool:
    # ssh://git@host names an account, not a secret; any password, or a bare user on http(s) (a token
    # can be the user name there), is one.
    return ":" in userinfo or scheme.lower() not in _SSH_SCHEMES


def redact_url(text: str) -> str:
    """A location (or a message naming one) as it may be shown or logged: the user info of every URL in it
    (a token may sit there) becomes ``***``; an ssh account name (``ssh://git@host``) stays."""
    def hide(m: re.Match[str]) -> str:
        return f"{m[1]}://{REDACTED}@" if _is_secret(m[1], m[2]) else m[0]

    return _SHOWN_USERINFO.sub(hide, text)


class Location:
    """A repository's address. ``str()``/``repr()`` are the redacted form; the real address (with any
    credentials) only ever reaches git, through :meth:`argument` and :meth:`add_credentials`."""

    __slots__ = ("_address", "origin")

    def __init__(self, address: str, origin: str = "the command line") -> None:
        self._address = address
        self.origin = origin  # where the address, and any credential in it, came from

    @classmethod
    def parse(cls, value: str | os.PathLike[str] | Location, *, origin: str = "the command line") -> Location:
        """A location from what a user wrote (a path or a URL); a Location is returned as it is."""
        if isinstance(value, Location):
            return value
        return cls(os.fspath(value), origin)

    @classmethod
    def restore(cls, stored: str, given: Location | None = None) -> Location:
        """A location from its stored (redacted) form. ``given`` (the same address read again from the
        playbook or the command line) wins; else a redacted user info comes from :data:`CREDENTIALS_ENV`,
        else git's own credential helper is left to supply it."""
        if given is not None and given.shown == stored:
            return given
        m = _USERINFO.match(stored)
        if m is None or m[2] != REDACTED:
            return cls(stored, "the workdir's record")
        userinfo = os.environ.get(CREDENTIALS_ENV, "")
        if userinfo:
            return cls(f"{m[1]}://{userinfo}@{stored[m.end():]}", f"the environment variable {CREDENTIALS_ENV}")
        return cls(f"{m[1]}://{stored[m.end():]}", "git's credential helper")

    # What may be shown ---------------------------------------------------------------------
    @property
    def shown(self) -> str:
        """The redacted form: the only one ever printed, logged or written to disk."""
        return redact_url(self._address)

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"Location({self.shown!r})"

    def __eq__(self, other: object) -> bool:
        # Equal to the same address, or to the very text it was read from (a playbook's value).
        if isinstance(other, str):
            return other == self._address
        return isinstance(other, Location) and other._address == self._address

    def __hash__(self) -> int:
        return hash(self._address)

    @property
    def credential_note(self) -> str | None:
        """Where the credentials of this URL come from (never the credentials); None if it carries none."""
        if self._userinfo() is not None:
            return f"from {self.origin} (kept in memory, never stored)"
        if self.origin == "git's credential helper":
            return "from git's credential helper"
        return None

    # What it is ----------------------------------------------------------------------------
    @property
    def is_url(self) -> bool:
        """A URL rather than a local path."""
        return is_url(self._address)

    @property
    def path(self) -> Path | None:
        """The repository path of a local path or ``file://`` location; None for a network one."""
        if self._address.startswith("file://"):
            return Path(urllib.parse.unquote(urllib.parse.urlsplit(self._address).path))
        return None if self.is_url else Path(self._address)

    # What git gets ---------------------------------------------------------------------------
    def _userinfo(self) -> tuple[str, str] | None:
        m = _USERINFO.match(self._address)
        if m is None or not _is_secret(m[1], m[2]) or m[1].lower() in _SSH_SCHEMES:
            return None
        user, _, password = m[2].partition(":")
        return urllib.parse.unquote(user), urllib.parse.unquote(password)

    def argument(self) -> str:
        """The address as git's command line gets it: without the credentials (they go by helper)."""
        m = _USERINFO.match(self._address)
        if m is None or not _is_secret(m[1], m[2]):
            return self._address
        if m[1].lower() in _SSH_SCHEMES:  # ssh takes no password from a helper: keep the account, drop the rest
            return f"{m[1]}://{m[2].partition(':')[0]}@{self._address[m.end():]}"
        return f"{m[1]}://{self._address[m.end():]}"

    def add_credentials(self, env: dict[str, str]) -> None:
        """Give git this URL's credentials through ``env``: a credential helper (git's command-line
        configuration, after the user's own helpers are reset, so none of them stores the token)."""
        creds = self._userinfo()
        if creds is None:
            return
        if any(c in part for part in creds for c in "\n\r\0"):
            raise UsageError(f"{self.shown}: the user name or password in this URL holds a line break")
        base = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        for i, value in enumerate(("", _HELPER), base):
            env[f"GIT_CONFIG_KEY_{i}"] = "credential.helper"
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        env["GIT_CONFIG_COUNT"] = str(base + 2)
        env["GIT_SANITIZE_USERNAME"], env["GIT_SANITIZE_PASSWORD"] = creds

    @property
    def hint(self) -> str:
        """What to do when git could not log in with what this location has."""
        if self.origin == "git's credential helper":
            return (f"the credentials of {self.shown} are never stored: set {CREDENTIALS_ENV}=USER:TOKEN, "
                    "configure git's credential helper for it, or run the playbook again")
        return ""


def resolve_remote(source: str | None, remote: str | Location | None) -> Location:
    """The push target: ``--remote`` (or the playbook's remote), else ``source``, the plan's source as the
    rewrite recorded it (redacted: its credentials come back from the environment or git's helper)."""
    if remote:
        return Location.parse(remote)
    if not source:
        raise UsageError("no remote: pass --remote URL (the plan records no source)")
    return Location.restore(source)
