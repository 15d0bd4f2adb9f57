"""Ready-to-install schedules for ``git-sanitize rotate --mode scheduled --due``.

Three ways to run the engine unattended: a crontab line, a systemd service
plus timer, a Kubernetes CronJob. The templates live in
``sanitize/templates/schedule/``; this module fills them in and quotes every
value for the syntax it lands in (POSIX shell plus cron's ``%``, systemd's
``ExecStart`` with its ``%``/``$`` specifiers, YAML via JSON strings), and
refuses values that would smuggle a second line or command into the file.
Credentials never go into a schedule: each template reads them from an
environment file or a Kubernetes Secret the operator provides.
"""

from __future__ import annotations

import re
import shlex
import sys
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, assert_never

from jinja2 import Environment, PackageLoader, StrictUndefined

from sanitize import __version__
from sanitize.errors import UsageError

# What `docker build -t git-sanitize:VERSION .` produces from the repository's Dockerfile.
DEFAULT_IMAGE = f"git-sanitize:{__version__}"
MODES = ("scheduled", "compromised")
_SAFE_SYSTEMD = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
_CRON_FIELD = re.compile(r"^[A-Za-z0-9*/,-]+$")
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ScheduleKind(StrEnum):
    """Where the schedule runs; the value is what ``--print-schedule`` accepts."""

    CRON = "cron"
    SYSTEMD = "systemd"
    K8S = "k8s"

    @property
    def default_schedule(self) -> str:
        """Daily at 03:17 UTC, in this kind's own syntax (off the hour, to spread load)."""
        match self:
            case ScheduleKind.CRON | ScheduleKind.K8S:
                return "17 3 * * *"
            case ScheduleKind.SYSTEMD:
                return "*-*-* 03:17:00 UTC"
            case _:  # pragma: no cover
                assert_never(self)

    @property
    def templates(self) -> tuple[tuple[str, str], ...]:
        """(output file name, template name) pairs."""
        match self:
            case ScheduleKind.CRON:
                return (("git-sanitize-rotate.cron", "cron.j2"),)
            case ScheduleKind.SYSTEMD:
                return (
                    ("git-sanitize-rotate.service", "git-sanitize-rotate.service.j2"),
                    ("git-sanitize-rotate.timer", "git-sanitize-rotate.timer.j2"),
                )
            case ScheduleKind.K8S:
                return (("git-sanitize-rotate-cronjob.yaml", "cronjob.yaml.j2"),)
            case _:  # pragma: no cover
                assert_never(self)


def parse_kind(kind: str | ScheduleKind) -> ScheduleKind:
    """``cron`` / ``systemd`` / ``k8s`` (``kubernetes`` too); UsageError naming the choices otherwise."""
    if isinstance(kind, ScheduleKind):
        return kind
    aliases = {"kubernetes": "k8s", "crontab": "cron", "timer": "systemd"}
    try:
        return ScheduleKind(aliases.get(kind, kind))
    except ValueError:
        choices = ", ".join(k.value for k in ScheduleKind)
        raise UsageError(f"unknown schedule kind {kind!r} (choose {choices})") from None


def _one_line(value: str, what: str) -> str:
    if not value or any(c in value for c in "\n\r\0"):
        raise UsageError(f"{what} must be a non-empty single line")
    return value


def _check_schedule(kind: ScheduleKind, schedule: str) -> str:
    _one_line(schedule, "schedule")
    match kind:
        case ScheduleKind.CRON | ScheduleKind.K8S:
            fields = schedule.split()
            if kind is ScheduleKind.CRON and len(fields) == 1 and fields[0] in _CRON_MACROS:
                return schedule
            if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
                raise UsageError(f"schedule {schedule!r} is not a 5-field cron expression (e.g. '17 3 * * *')")
            return " ".join(fields)
        case ScheduleKind.SYSTEMD:
            if not re.match(r"^[A-Za-z0-9*:.,/~ _+-]+$", schedule):
                raise UsageError(f"schedule {schedule!r} is not a systemd OnCalendar expression")
            return schedule
        case _:  # pragma: no cover
            assert_never(kind)


def cron_quote(args: list[str]) -> str:
    """A shell command line for crontab: shell-quoted, with cron's ``%`` (a newline to cron) escaped."""
    return " ".join(shlex.quote(a) for a in args).replace("%", r"\%")


def systemd_quote(arg: str) -> str:
    """One ``ExecStart=`` word: specifiers (``%``) and variables (``$``) doubled, quoted if needed."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _SAFE_SYSTEMD.match(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_executable() -> str:
    """The ``git-sanitize`` entry point beside this Python (a venv's bin/), else /usr/local/bin's."""
    candidate = Path(sys.executable).with_name("git-sanitize")
    return str(candidate) if candidate.exists() else "/usr/local/bin/git-sanitize"


def schedule_files(
    kind: str | ScheduleKind,
    config_path: str,
    *,
    schedule: str | None = None,
    mode: str = "scheduled",
    due: bool = True,
    executable: str | None = None,
    env_file: str = "/etc/git-sanitize/rotation.env",
    user: str = "git-sanitize",
    log_file: str = "/var/log/git-sanitize/rotate.log",
    image: str = DEFAULT_IMAGE,
    namespace: str = "git-sanitize",
    config_map: str = "git-sanitize-rotation",
    secret_name: str = "git-sanitize-rotation-env",  # noqa: S107 - a Kubernetes Secret's name
) -> dict[str, str]:
    """The schedule's files, name → content (systemd: a service and a timer).

    ``config_path`` is the rotation.yml path where the job runs (for k8s, the
    path inside the container, mounted from ``config_map``). ``image`` is the
    k8s container image (the repository's Dockerfile builds it; uid 10001). ``schedule`` is
    in the kind's own syntax (cron fields, or systemd OnCalendar).
    """
    k = parse_kind(kind)
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    when = _check_schedule(k, schedule or k.default_schedule)
    config = _one_line(config_path, "config path")
    exe = _one_line(executable or (default_executable() if k is not ScheduleKind.K8S else "git-sanitize"), "executable")
    for value, what in ((env_file, "env file"), (log_file, "log file")):
        if not PurePosixPath(_one_line(value, what)).is_absolute():
            raise UsageError(f"{what} must be an absolute path (got {value!r})")
    if not re.match(r"^[a-z_][a-z0-9_-]*$", user):
        raise UsageError(f"user {user!r} is not a valid user name")
    argv = [exe, "rotate", "--config", config, "--mode", mode] + (["--due"] if due else [])

    context: dict[str, Any] = {
        "schedule": when,
        "mode": mode,
        "due": due,
        "config_path": config,
        "env_file": env_file,
        "user": user,
        "log_file": log_file,
    }
    match k:
        case ScheduleKind.CRON:
            # set -a exports what the env file assigns; exec keeps the exit status for cron's mail.
            context["cron_command"] = (
                f"set -a && . {cron_quote([env_file])} && set +a && exec {cron_quote(argv)} "
                f">> {cron_quote([log_file])} 2>&1"
            )
        case ScheduleKind.SYSTEMD:
            if not exe.startswith("/"):
                raise UsageError(f"executable must be an absolute path for systemd (got {exe!r})")
            context["systemd_command"] = " ".join(systemd_quote(a) for a in argv)
        case ScheduleKind.K8S:
            path = PurePosixPath(config)
            if not path.is_absolute() or path.name in ("", "..") or str(path.parent) == "/":
                raise UsageError(f"config path must be an absolute file path below a directory (got {config!r})")
            for value, what in ((namespace, "namespace"), (config_map, "config map"), (secret_name, "secret name")):
                if not _K8S_NAME.match(value) or len(value) > 253:
                    raise UsageError(f"{what} {value!r} is not a valid Kubernetes name")
            _one_line(image, "image")
            if any(c.isspace() for c in image):
                raise UsageError(f"image {image!r} must not contain whitespace")
            context.update(
                k8s_command=argv,
                image=image,
                namespace=namespace,
                config_map=config_map,
                secret_name=secret_name,
                config_dir=str(path.parent),
                config_file=path.name,
            )
        case _:  # pragma: no cover
            assert_never(k)

    env = Environment(
        loader=PackageLoader("sanitize", "templates/schedule"),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - crontab, unit files and YAML, not HTML; values are quoted above
        keep_trailing_newline=True,
    )
    return {name: env.get_template(template).render(**context) for name, template in k.templates}


def render_schedule(kind: str | ScheduleKind, config_path: str, **options: Any) -> str:
    """The schedule as one text; several files are each preceded by a ``# ==> name <==`` line."""
    files = schedule_files(kind, config_path, **options)
    if len(files) == 1:
        return next(iter(files.values()))
    return "\n".join(f"# ==> {name} <==\n{content}" for name, content in files.items())
