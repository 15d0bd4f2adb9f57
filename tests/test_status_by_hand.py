"""`status` for a purge run stage by stage (no playbook): the stages actually done, and each next command.

Before, such a workdir showed `source: None`, scan and plan pending, and suggested `run PLAYBOOK`.
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


def test_status_follows_a_purge_run_stage_by_stage(tmp_path: Path) -> None:
    rng = random.Random(21)
    value = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    work = tmp_path / "app"
    git.run(["init", "-q", "-b", "main", str(work)])
    (work / ".env").write_text(f"JWT_SECRET={value}\n")
    (work / "app.py").write_text("print('hi')\n")
    git.run(["add", "-A"], cwd=work)
    git.run(["-c", "user.name=Ann", "-c", "user.email=ann@team.test", "commit", "-q", "-m", "app"], cwd=work)
    origin = tmp_path / "origin.git"
    git.run(["clone", "-q", "--bare", str(work), str(origin)])
    review, wd = tmp_path / "review", tmp_path / "wd"
    review.mkdir()
    assert _cli("scan", str(origin), "-o", str(review / "findings.json"), cwd=tmp_path).returncode == 1
    assert _cli("plan", str(review / "findings.json"), "-o", str(review / "plan.json"), cwd=tmp_path).returncode == 0
    rewrite = _cli("rewrite", str(review / "plan.json"), "--workdir", str(wd), cwd=tmp_path)
    assert rewrite.returncode == 0, rewrite.stderr

    def status() -> dict:
        proc = _cli("status", "--workdir", str(wd), "--format", "json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    doc = status()
    assert doc["source"] == str(origin)
    assert [doc["stages"][s]["status"] for s in ("scan", "plan", "rewrite", "notify")] == [
        "done", "done", "done", "pending"]
    assert doc["next"] == f"notify: git-sanitize notify --workdir {wd} [--roster CSV] [--deadline DATE]"
    assert "PLAYBOOK" not in doc["next"]

    assert _cli("notify", "--workdir", str(wd), cwd=tmp_path).returncode == 0
    assert status()["next"].startswith(f"approve: git-sanitize approve --workdir {wd}")
    text = _cli("status", "--workdir", str(wd), cwd=tmp_path).stdout
    assert f"source:      {origin}\n" in text and "None" not in text
    assert value not in text
