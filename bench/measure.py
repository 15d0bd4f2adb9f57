"""Run one command and measure it: wall time, the largest process's peak RSS, the whole tree's peak RSS.

Memory is sampled from ``/proc`` every 50 ms over the command's whole process tree: the
largest ``VmHWM`` of any one process (what ``/usr/bin/time`` calls max RSS) and the largest
sum of ``VmRSS`` over the tree at one moment (a scanner that forks workers holds their sum:
that is the number to compare with a memory budget). ``wait4``'s ``ru_maxrss`` is not used:
a child forked from this (large) Python process inherits its high-water mark.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One timed run."""

    seconds: float
    max_rss: int    # bytes, largest VmHWM of any one process in the tree
    tree_rss: int   # bytes, largest sampled VmRSS sum over the tree
    returncode: int
    error: str      # last stderr line when the command failed, else ""


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            kids.extend(int(k) for k in text.split())
    except OSError:
        pass
    return kids


def _mem(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in bytes; zeros once it is gone or has no memory map."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return rss, hwm


def tree_memory(root: int) -> tuple[int, int]:
    """(sum of VmRSS over ``root`` and its descendants, largest VmHWM among them)."""
    total, peak, todo, seen = 0, 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        rss, hwm = _mem(pid)
        total += rss
        peak = max(peak, hwm)
        todo.extend(_children(pid))
    return total, peak


def run(cmd: Sequence[str], *, stdout: Path | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None, interval: float = 0.05) -> Sample:
    """Run ``cmd`` to completion (stdout to ``stdout`` or /dev/null) and measure it."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(stdout, "wb")) if stdout else subprocess.DEVNULL
        err = stack.enter_context(tempfile.TemporaryFile())
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=cwd, env=env)
        tree_peak = one_peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal tree_peak, one_peak
            while not stop.is_set():
                total, hwm = tree_memory(proc.pid)
                tree_peak, one_peak = max(tree_peak, total), max(one_peak, hwm)
                stop.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status = os.waitpid(proc.pid, 0)
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; tell Popen
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    return Sample(seconds=seconds, max_rss=one_peak, tree_rss=max(tree_peak, one_peak),
                  returncode=proc.returncode, error=lines[-1][:200] if lines else "")
