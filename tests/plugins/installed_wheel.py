"""The package as a user installs it: a wheel built from this tree, installed into a fresh venv.

Built once per test session (a lock shares it between xdist workers); the venv
has none of the test environment on its path, so what runs there is the
installed copy with its declared dependencies (git-filter-repo pinned among them).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sanitize

ROOT = Path(sanitize.__file__).resolve().parent.parent


@dataclass(frozen=True)
class InstalledWheel:
    """The built wheel and the fresh venv it is installed in."""

    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def exe(self) -> Path:
        return self.bin / "git-sanitize"


def build_wheel(dest: Path) -> Path:
    """``pip wheel --no-deps`` of this tree into ``dest``; returns the wheel."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = dest.glob("git_sanitize-*.whl")
    return wheel


def _build(base: Path) -> InstalledWheel:
    wheel = build_wheel(base / "dist")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    return InstalledWheel(wheel, env_dir)


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledWheel]:
    """One wheel + fresh venv for the whole session, shared by xdist workers."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp sits in the session's directory; alone, basetemp is the session's.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "installed-wheel"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / ".done"
        if done.exists():
            wheel = next((shared / "dist").glob("git_sanitize-*.whl"))
            result = InstalledWheel(wheel, shared / "venv")
        else:
            result = _build(shared)
            done.write_text("ok\n")
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield result
