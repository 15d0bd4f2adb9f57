"""A real ``git daemon`` on 127.0.0.1 serving bare repositories, receive-pack enabled.

``git_daemon`` yields a :class:`GitDaemon`; put (or clone) bare repositories
under ``.base`` and reach them as ``.url(name)``. The daemon is started on a
free port and stopped by the fixture that started it, by PID.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.services import free_port, stop_process
from sanitize.git import git_env


@dataclass(frozen=True)
class GitDaemon:
    """A running daemon: its base path and port."""

    base: Path
    port: int
    pid: int

    def url(self, name: str) -> str:
        """``git://127.0.0.1:PORT/name`` for a repository under ``base``."""
        return f"git://127.0.0.1:{self.port}/{name}"


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"git daemon exited early: {log.read_text(errors='replace')[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("git daemon did not start listening")


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    """Serve ``tmp_path/daemon`` over git:// (read and push) for the test's duration."""
    base = tmp_path / "daemon"
    base.mkdir()
    log = tmp_path / "git-daemon.log"
    for _attempt in range(3):
        port = free_port()
        # Its log goes to a file: a pipe nobody reads could fill up and stall the daemon.
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr", "--informative-errors",
                 f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base)],
                stdout=subprocess.DEVNULL, stderr=sink, env=git_env())
        try:
            _wait_ready(port, proc, log)
            break
        except RuntimeError:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    else:
        raise RuntimeError("could not start git daemon")
    try:
        yield GitDaemon(base=base, port=port, pid=proc.pid)
    finally:
        stop_process(proc)
