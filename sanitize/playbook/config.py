"""Parsing a purge playbook (YAML) into a frozen, validated object.

Relative paths are resolved against the playbook's own directory, so a
playbook can be run from anywhere. Every problem is one UsageError line that
names the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from sanitize import git
from sanitize.errors import UsageError
from sanitize.inputs import read_text

_TOP_KEYS = {"source", "workdir", "remote", "approvals", "notify", "rules", "baseline", "rotate", "rotate_mode",
             "due", "gc_remote", "guard", "description"}
_MODES = ("compromised", "scheduled")
_NOTIFY_KEYS = {"roster", "deadline", "templates", "freeze"}
_APPROVAL_KEYS = {"required", "expires", "allowed_signers", "unsigned"}


@dataclass(frozen=True)
class NotifySettings:
    """Notice settings: who (roster), by when (deadline), how (templates)."""

    roster: Path | None = None
    deadline: str | None = None
    templates: Path | None = None
    freeze: str | None = None  # the freeze window as the notices state it


@dataclass(frozen=True)
class Playbook:
    """A coordinated purge: where from, where to work, who must approve, what to rotate after."""

    path: Path
    source: git.Location | None   # shown redacted; a token in its URL stays in memory
    workdir: Path | None
    remote: git.Location | None
    approvals_required: int = 1
    allowed_signers: Path | None = None  # SSH allowed_signers: who may sign approvals
    unsigned_approvals: bool = False     # count approvals without a signature (names as typed)
    approval_expires: str = "24h"        # default lifetime of an approval
    notify: NotifySettings = NotifySettings()
    rules: Path | None = None
    baseline: Path | None = None
    rotate: Path | None = None
    rotate_mode: str = "compromised"
    due: bool = False
    gc_remote: bool = False
    guard: bool = True

    @property
    def is_purge(self) -> bool:
        """A purge playbook has a source; a rotation-only playbook (scheduled jobs) has none."""
        return self.source is not None


def _fail(path: Path, msg: str) -> UsageError:
    return UsageError(f"{path}: {msg}")


def _check_keys(path: Path, where: str, data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise _fail(path, f"unknown key {where}{unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _location(base: Path, value: Any, path: Path, key: str) -> git.Location:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{key!r} must be a non-empty string")
    origin = f"the playbook {path}"
    if git.is_url(value):
        return git.Location(value, origin)
    return git.Location(str((base / value).resolve()), origin)


def _opt_path(base: Path, value: Any, path: Path, key: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{key!r} must be a path")
    return (base / value).resolve()


def load(path: str | Path) -> Playbook:
    """Read and validate a playbook file."""
    p = Path(path)
    text = read_text(p, "playbook")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{p}: malformed YAML{where}") from exc
    return parse(data, p)


def parse(data: Any, path: Path) -> Playbook:
    """Validate a loaded playbook document."""
    if not isinstance(data, dict):
        raise _fail(path, "a playbook must be a YAML mapping")
    _check_keys(path, "", data, _TOP_KEYS)
    if "source" not in data and "rotate" not in data:
        raise _fail(path, "missing required key 'source' (or 'rotate' for a rotation-only playbook)")
    if "source" in data and "workdir" not in data:
        raise _fail(path, "missing required key 'workdir'")
    base = path.resolve().parent
    source = _location(base, data["source"], path, "source") if "source" in data else None
    workdir = _opt_path(base, data.get("workdir"), path, "workdir")
    remote = _location(base, data["remote"], path, "remote") if data.get("remote") is not None else source
    mode = data.get("rotate_mode", "compromised" if source else "scheduled")
    if mode not in _MODES:
        raise _fail(path, f"'rotate_mode' must be one of {', '.join(_MODES)}")

    approvals = data.get("approvals") or {}
    if not isinstance(approvals, dict):
        raise _fail(path, "'approvals' must be a mapping such as {required: 1}")
    _check_keys(path, "approvals.", approvals, _APPROVAL_KEYS)
    required = approvals.get("required", 1)
    if not isinstance(required, int) or isinstance(required, bool) or required < 1:
        raise _fail(path, "'approvals.required' must be a whole number >= 1")
    signers = _opt_path(base, approvals.get("allowed_signers"), path, "approvals.allowed_signers")
    unsigned = approvals.get("unsigned", False)
    if not isinstance(unsigned, bool):
        raise _fail(path, "'approvals.unsigned' must be true or false")
    expires = str(approvals.get("expires", "24h"))
    from sanitize.purge.approval import parse_duration

    try:
        parse_duration(expires)
    except UsageError as exc:
        raise _fail(path, f"'approvals.expires': {exc}") from None

    notify_raw = data.get("notify") or {}
    if not isinstance(notify_raw, dict):
        raise _fail(path, "'notify' must be a mapping")
    _check_keys(path, "notify.", notify_raw, _NOTIFY_KEYS)
    deadline = notify_raw.get("deadline")
    if deadline is not None:
        deadline = str(deadline)
        try:
            date.fromisoformat(deadline)
        except ValueError as exc:
            raise _fail(path, "'notify.deadline' must be a date YYYY-MM-DD") from exc
    notify = NotifySettings(
        roster=_opt_path(base, notify_raw.get("roster"), path, "notify.roster"),
        deadline=deadline,
        templates=_opt_path(base, notify_raw.get("templates"), path, "notify.templates"),
        freeze=str(notify_raw["freeze"]) if notify_raw.get("freeze") is not None else None,
    )
    for flag in ("gc_remote", "guard", "due"):
        if flag in data and not isinstance(data[flag], bool):
            raise _fail(path, f"{flag!r} must be true or false")
    if source is not None and signers is None and not unsigned:
        raise _fail(path, "'approvals' must name 'allowed_signers' (an SSH allowed_signers file: approvals are "
                          "signed with `approve --key`) or set 'unsigned: true' to accept typed names")
    return Playbook(
        path=path.resolve(),
        source=source,
        workdir=workdir,
        remote=remote,
        approvals_required=required,
        allowed_signers=signers,
        unsigned_approvals=unsigned,
        approval_expires=expires,
        notify=notify,
        rules=_opt_path(base, data.get("rules"), path, "rules"),
        baseline=_opt_path(base, data.get("baseline"), path, "baseline"),
        rotate=_opt_path(base, data.get("rotate"), path, "rotate"),
        rotate_mode=mode,
        due=bool(data.get("due", False)),
        gc_remote=bool(data.get("gc_remote", False)),
        guard=bool(data.get("guard", True)),
    )
