"""A hook command as a target: the value goes on stdin, never in argv or the environment.

The hook sees ``ROTATION_STEP`` (``apply``, ``test``, ``revert``, or
``prove`` when ``prove_leak: true``) and ``ROTATION_SECRET_NAME``. Exit 0 is
success; for ``prove``, exit 0 means the leaked value (on stdin) was
rejected. Its output is discarded: a hook may echo what it read.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from rotation.errors import ConfigError, TargetError
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

    def _run(self, step: str, value: Secret) -> int:
        env = {**os.environ, "ROTATION_STEP": step, "ROTATION_SECRET_NAME": self.secret_name}
        try:
            proc = subprocess.run(self.argv, input=value.reveal().encode(), env=env, timeout=self.timeout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        except FileNotFoundError:
            raise TargetError(f"command hook not found: {self.argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"command hook {self.argv[0]} timed out in step {step}") from None
        except OSError as exc:
            raise TargetError(f"command hook {self.argv[0]} could not run: {type(exc).__name__}") from None
        return proc.returncode

    def _check(self, step: str, value: Secret) -> None:
        code = self._run(step, value)
        if code != 0:
            raise TargetError(f"command hook {self.argv[0]} failed in step {step} (exit {code})")

    def apply(self, old: Secret, new: Secret) -> None:
        """``ROTATION_STEP=apply``, the new value on stdin."""
        self._check("apply", new)

    def test(self, value: Secret) -> None:
        """``ROTATION_STEP=test``, the new value on stdin."""
        self._check("test", value)

    def revert(self, old: Secret, new: Secret) -> None:
        """``ROTATION_STEP=revert``, the old value on stdin."""
        self._check("revert", old)

    def prove_leak_dead(self, leaked: Secret) -> LeakProof | None:
        """With ``prove_leak``: ``ROTATION_STEP=prove``, the leaked value on stdin; exit 0 = rejected."""
        if not self.prove_leak:
            return None
        code = self._run("prove", leaked)
        return LeakProof(leaked_rejected=code == 0,
                         detail="leaked credential rejected" if code == 0 else f"hook says still valid (exit {code})")
