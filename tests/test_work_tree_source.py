"""A work clone as the purge's source: say which remote to scan; never push its refs/remotes/* elsewhere.

A lead who runs `git-sanitize scan` in their clone gets the clone's remote-tracking refs in the
plan. Pushing those to the shared repository would create stray refs/remotes/* there, each a
second copy of history; the scan says which URL to scan instead.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

from sanitize import git


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_a_clone_scanned_and_pushed_to_its_origin_leaves_remote_tracking_refs_out(tmp_path: Path) -> None:
    rng = random.Random(33)
    value = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    author = tmp_path / "author"
    git.run(["init", "-q", "-b", "main", str(author)])
    (author / ".env").write_text(f"JWT_SECRET={value}\n")
    (author / "app.py").write_text("print('hi')\n")
    git.run(["add", "-A"], cwd=author)
    git.run(["-c", "user.name=Ann", "-c", "user.email=ann@team.test", "commit", "-q", "-m", "app"], cwd=author)
    origin = tmp_path / "origin.git"
    git.run(["clone", "-q", "--bare", str(author), str(origin)])
    clone = tmp_path / "lead-clone"
    git.run(["clone", "-q", str(origin), str(clone)])
    assert "refs/remotes/origin/main" in git.refs(clone)

    review = tmp_path / "review"
    review.mkdir()
    scan = _cli("scan", str(clone), "-o", str(review / "findings.json"), cwd=tmp_path)
    assert scan.returncode == 1
    assert f"note: {clone} is a work clone of {origin}: for a purge, scan {origin}" in scan.stderr
    assert "refs/remotes/origin/main" in json.loads((review / "findings.json").read_text())["refs"]
    planned = _cli("plan", str(review / "findings.json"), "-o", str(review / "plan.json"), cwd=tmp_path)
    assert planned.returncode == 0
    wd = tmp_path / "wd"
    assert _cli("rewrite", str(review / "plan.json"), "--workdir", str(wd), cwd=tmp_path).returncode == 0
    digest = json.loads((review / "plan.json").read_text())["digest"]
    approved = _cli("approve", "--workdir", str(wd), "--approver", "Dana", "--digest", digest, cwd=tmp_path)
    assert approved.returncode == 0

    pushed = _cli("push", "--workdir", str(wd), "--remote", str(origin), "--allow-unsigned", cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    assert "left out: 2 remote-tracking ref(s) of the scanned clone" in pushed.stdout  # origin/main, origin/HEAD
    refs = git.refs(origin)
    assert not any(r.startswith("refs/remotes/") for r in refs), refs
    mirror_main = git.out(["rev-parse", "refs/heads/main"], cwd=wd / "mirror.git")
    assert refs["refs/heads/main"] == mirror_main
    verified = _cli("verify", "--workdir", str(wd), "--remote", str(origin), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
