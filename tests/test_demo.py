"""`make demo` end to end: the story purged, the remote clean, every leaked value rotated, nothing printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from demo.services import mariadb_binaries
from demo.story_repo import build_demo_repo
from tests.plugins.demo_repo import secret_needles

pytestmark = pytest.mark.services


def _leaked_values(tmp_path: Path) -> set[str]:
    """The demo's fake secrets: the same seed builds the same values."""
    return secret_needles(build_demo_repo(tmp_path / "same-seed", story_only=True))


def _transcript_aws_pair(work: Path) -> set[str]:
    """The AWS key pair the demo's IAM made and its transcript leaked (not from the seed): read from the
    demo's own work repository, which keeps the original history."""
    text = subprocess.run(["git", "log", "--all", "-p", "--", "docs/chat"], cwd=work, capture_output=True,
                          text=True, check=True).stdout
    found = re.search(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=([^\s\"]+)", text)
    assert found, "the transcript holds an AWS key pair"
    return {found.group(1), found.group(2)}


def test_demo_runs_the_whole_purge_and_prints_no_secret(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    proc = subprocess.run([sys.executable, "-m", "demo.run", "--out", str(out)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL"):
        assert re.search(rf"{name}\s+rotated", proc.stdout)
    # Every exposed credential's final state: the transcript's MySQL login proven dead (MariaDB installed),
    # the transcript's OpenAI key still live with its step (it can only be revoked at the provider).
    if mariadb_binaries() is not None:
        assert re.search(r"OPS_MYSQL_URL\s+rotated-proven-dead\s+leaked login refused", proc.stdout)
    assert re.search(r"DATABASE_URL\s+rotated-proven-dead", proc.stdout)
    # The transcript's AWS key pair is a real key of the demo's local IAM: replaced, the leaked one refused.
    assert re.search(r"CI_AWS_KEYS\s+rotated-proven-dead\s+leaked key of deploy-bot deactivated and deleted",
                     proc.stdout)
    assert not re.search(r"aws\.(access|secret)-key:[0-9a-f]{8}\s+still-live", proc.stdout)
    assert re.search(r"openai\.key:[0-9a-f]{8}\s+still-live\s+.*platform\.openai\.com", proc.stdout)
    assert "waiting for approval" in proc.stderr
    assert re.search(r"all \d+ checks passed", proc.stdout), "run --check precedes the purge"
    # Provider-only keys stay live until revoked there: the status says so, and what to do.
    assert re.search(r"rotate: \d+ exposed credential\(s\) still live .*--ack NAME", proc.stdout)

    workdir = out / ".sanitize" / "purge"
    secret_bearing = {"backup.bundle", "plan.secrets"}
    leaked = _leaked_values(tmp_path) | _transcript_aws_pair(out / "work")
    outputs = [proc.stdout.encode(), proc.stderr.encode()]
    outputs += [f.read_bytes() for f in workdir.rglob("*")
                if f.is_file() and "mirror.git" not in f.parts and f.name not in secret_bearing]
    for value in leaked:
        assert not any(value.encode() in blob for blob in outputs)
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=out / "origin.git",
                             capture_output=True, check=True).stdout
    assert not any(v.encode() in objects for v in leaked), "the remote still serves a leaked value"
