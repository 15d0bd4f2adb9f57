"""Running an operator's command (target hook, consumer, proof): the one place rotation spawns one.

A value goes on stdin only, never in argv or the environment (both are
visible to other users in ``/proc``). stdout and stderr are captured together
and handed back raw: the caller redacts them (:mod:`rotation.output`) before
anything is kept.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rotation.errors import TargetError
from sanitize.secret import Secret

KEEP_BYTES = 1 << 20


@dataclass(frozen=True)
class HookRun:
    """One finished run: its exit status and what it printed (raw: redact before keeping)."""

    returncode: int
    output: bytes


def run_hook(argv: Sequence[str], *, value: Secret | None, env: Mapping[str, str], timeout: int, what: str
             ) -> HookRun:
    """Run ``argv`` with ``value`` on stdin (nothing when None); TargetError if it cannot run or times out."""
    # Output goes to a file, not a pipe: a restart hook that leaves a daemon holding its stdout must not
    # keep us waiting for an end of file that never comes.
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.run(list(argv), input=value.reveal().encode() if value is not None else b"",
                                  env={**os.environ, **env}, timeout=timeout, stdout=out,
                                  stderr=subprocess.STDOUT, check=False)
        except FileNotFoundError:
            raise TargetError(f"{what} not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"{what} {argv[0]} timed out after {timeout}s") from None
        except OSError as exc:
            raise TargetError(f"{what} {argv[0]} could not run: {type(exc).__name__}") from None
        out.seek(max(0, os.fstat(out.fileno()).st_size - KEEP_BYTES))  # the tail is where errors are
        return HookRun(returncode=proc.returncode, output=out.read())
