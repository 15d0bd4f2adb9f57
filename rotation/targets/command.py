"""A hook command as a target: the value goes on stdin, never in argv or the environment.

The hook sees ``ROTATION_STEP`` (``apply``, ``test``, ``revert``, or
``prove`` when ``prove_leak: true``) and ``ROTATION_SECRET_NAME``. Exit 0 is
success; for ``prove``, exit 0 means the leaked value (on stdin) was
rejected. What it printed (stdout and stderr) is kept in the failed step's
log record, redacted of the old and new values (a hook may echo what it read).

It runs *before* promotion, to change a system that checks the credential;
anything that must re-read the store (a restart, a reload) is a consumer
(:mod:`rotation.consumers`), which runs after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rotation.errors import ConfigError, TargetError
from rotation.hooks import run_hook
from rotation.output import kept
from rotation.targets import TargetContext
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret

_KEYS = {"type", "argv", "timeout", "prove_leak"}


class CommandTarget(Target):
    """Runs ``argv`` once per step with the relevant value on stdin."""

    kind = "command"

    def __init__(self, argv: Sequence[str], secret_name: str, *, timeout: int = 60, prove_leak: bool = False) -> None:
        self.argv = list(argv)
        self.secret_name = secret_name
        self.timeout = timeout
        self.prove_leak = prove_leak

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> CommandTarget:
        """``{type: command, argv: [...], timeout: 60, prove_leak: false}``."""
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        argv = spec.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
            raise ConfigError("'argv' must be a non-empty list of strings")
        timeout = spec.get("timeout", 60)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 3600:
            raise ConfigError("'timeout' must be an integer number of seconds (1-3600)")
        prove = spec.get("prove_leak", False)
        if not isinstance(prove, bool):
            raise ConfigError("'prove_leak' must be true or false")
        return cls(argv, ctx.secret_name, timeout=timeout, prove_leak=prove)

    def _run(self, step: str, value: Secret, *hidden: Secret) -> tuple[int, str]:
        env = {"ROTATION_STEP": step, "ROTATION_SECRET_NAME": self.secret_name}
        try:
            run = run_hook(self.argv, value=value, env=env, timeout=self.timeout, what="command hook")
        except TargetError as exc:
            raise TargetError(f"{exc} in step {step}") from None
        return run.returncode, kept(run.output, (value, *hidden))

    def _check(self, step: str, value: Secret, *hidden: Secret) -> None:
        code, output = self._run(step, value, *hidden)
        if code != 0:
            err = TargetError(f"command hook {self.argv[0]} failed in step {step} (exit {code})")
            err.output = output  # type: ignore[attr-defined]  # kept in the step's log record
            raise err

    def apply(self, old: Secret, new: Secret) -> None:
        """``ROTATION_STEP=apply``, the new value on stdin."""
        self._check("apply", new, old)

    def test(self, value: Secret) -> None:
        """``ROTATION_STEP=test``, the new value on stdin."""
        self._check("test", value)

    def revert(self, old: Secret, new: Secret) -> None:
        """``ROTATION_STEP=revert``, the old value on stdin."""
        self._check("revert", old, new)

    def prove_leak_dead(self, leaked: Secret) -> LeakProof | None:
        """With ``prove_leak``: ``ROTATION_STEP=prove``, the leaked value on stdin; exit 0 = rejected."""
        if not self.prove_leak:
            return None
        code, _ = self._run("prove", leaked)
        return LeakProof(leaked_rejected=code == 0,
                         detail="leaked credential rejected" if code == 0 else f"hook says still valid (exit {code})")
