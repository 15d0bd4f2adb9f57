"""Fault injection for crash tests: named points where the process kills itself on request.

Set ``GIT_SANITIZE_FAULT_AT=<point>`` and the process SIGKILLs itself when it
reaches that point — no cleanup, no finally blocks, exactly like a power cut
or an OOM kill. Tests use it to prove that re-running the same command
finishes correctly and that nothing is lost. Points are named
``<stage>`` (after the playbook recorded the stage done) or ``<stage>:<moment>``.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "GIT_SANITIZE_FAULT_AT"


def fault_point(name: str) -> None:
    """SIGKILL this process if the environment asks for a fault at ``name``."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
