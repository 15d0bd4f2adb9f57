"""The package as the container image installs it: the Dockerfile's own steps, run in a fresh venv.

No Docker engine runs here, so the fixture replays what the image build does
with the same commands: the build stage's ``COPY`` instructions assemble a
source tree from this checkout, and the ``RUN`` instructions that mention
``/dist`` (build the wheel; create the venv and install the wheel) run in bash
with ``/src``, ``/dist`` and ``/opt/git-sanitize`` mapped to temporary
directories. The venv has none of the test environment on its path: what runs
there is the installed copy with its declared dependencies (git-filter-repo
pinned among them). Built once per session; a lock shares it between xdist workers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sanitize

ROOT = Path(sanitize.__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


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


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(stage index, INSTRUCTION, arguments) for each instruction; continuation lines joined, comments dropped."""
    out: list[tuple[int, str, str]] = []
    stage, pending = -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full, pending = pending + line, ""
        keyword, _, args = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append((stage, keyword, args.strip()))
    return out


def install_steps(text: str) -> tuple[list[tuple[list[str], str]], list[str]]:
    """The build stage's COPY (sources, destination) pairs and every RUN that touches /dist."""
    copies: list[tuple[list[str], str]] = []
    runs: list[str] = []
    for stage, keyword, args in instructions(text):
        if keyword == "COPY" and stage == 0 and not args.startswith("--"):
            *sources, dest = args.split()
            copies.append((sources, dest))
        elif keyword == "RUN" and "/dist" in args:
            runs.append(args)
    return copies, runs


def replay(base: Path) -> InstalledWheel:
    """Run the Dockerfile's install steps with its paths mapped under ``base``."""
    copies, runs = install_steps(DOCKERFILE.read_text())
    assert copies and len(runs) == 2, "the Dockerfile's install steps changed: update this fixture"
    src, dist, prefix = base / "src", base / "dist", base / "venv"
    src.mkdir(parents=True)
    for sources, dest in copies:
        target = src / dest.removeprefix("./") if dest not in ("./", ".") else src
        for s in sources:
            origin = ROOT / s
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
    # `python` in the image is the base image's; here the interpreter running the tests stands in.
    bindir = base / "python-bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    kept = base / "wheel-kept"  # the image deletes /dist after installing; tests install the wheel again
    kept.mkdir()
    for command in runs:
        mapped = command.replace("/opt/git-sanitize", str(prefix)).replace("/dist", str(dist)) \
                        .replace("/src", str(src))
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", mapped], cwd=base, env=env, capture_output=True,
                              text=True, timeout=900)
        if proc.returncode != 0:
            raise AssertionError(f"Dockerfile step failed: {command}\n{proc.stdout}\n{proc.stderr}")
        for whl in dist.glob("*.whl") if dist.is_dir() else ():
            shutil.copy2(whl, kept / whl.name)
    (wheel,) = kept.glob("git_sanitize-*.whl")
    return InstalledWheel(wheel, prefix)


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledWheel]:
    """The Dockerfile's install steps replayed once for the whole session, shared by xdist workers."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp sits in the session's directory; alone, basetemp is the session's.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "installed-wheel"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / ".done"
        if not done.exists():
            replay(shared / "image")
            done.write_text("ok\n")
        fcntl.flock(lock, fcntl.LOCK_UN)
    (wheel,) = (shared / "image" / "wheel-kept").glob("git_sanitize-*.whl")
    yield InstalledWheel(wheel, shared / "image" / "venv")
