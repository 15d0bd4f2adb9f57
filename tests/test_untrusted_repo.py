"""Scanning (and planning and rewriting) an untrusted repository runs none of the commands its config names.

A hostile repository can carry config that makes git run programs: fsmonitor,
hooks, filter drivers, textconv, sshCommand, pager, editor, an alternate-refs
command. The purge reads such repositories as data; none of those may run.
"""

import os
import random
import string
import subprocess
import sys
from pathlib import Path

from sanitize import git

ROOT = Path(__file__).parents[1]


def test_scanning_a_hostile_repository_runs_none_of_its_config(tmp_path: Path) -> None:
    rng = random.Random(5)
    token = "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))
    marks = tmp_path / "marks"
    marks.mkdir()
    repo = tmp_path / "untrusted"
    git.run(["init", "-q", "-b", "main", str(repo)])
    (repo / ".env").write_text(f"GITHUB_TOKEN={token}\n")
    (repo / "app.py").write_text("print('hi')\n")
    git.run(["add", "."], cwd=repo)
    git.run(["-c", "user.name=a", "-c", "user.email=a@example.invalid", "commit", "-qm", "init"], cwd=repo)
    hooks = repo / "evil-hooks"
    hooks.mkdir()
    for hook in ("pre-commit", "post-checkout", "post-merge", "reference-transaction", "pre-auto-gc",
                 "post-rewrite", "fsmonitor-watchman", "post-index-change"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marks}/hook-{hook}\n")
        (hooks / hook).chmod(0o755)
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    config = {
        "core.hooksPath": str(hooks),
        "core.fsmonitor": f"touch {marks}/fsmonitor; echo",
        "filter.evil.clean": f"touch {marks}/filter-clean; cat",
        "filter.evil.smudge": f"touch {marks}/filter-smudge; cat",
        "filter.evil.process": f"touch {marks}/filter-process",
        "diff.evil.textconv": f"touch {marks}/textconv; cat",
        "core.sshCommand": f"touch {marks}/ssh",
        "core.pager": f"touch {marks}/pager; cat",
        "core.editor": f"touch {marks}/editor",
        "core.alternateRefsCommand": f"touch {marks}/alternate-refs",
        "credential.helper": f"!touch {marks}/credential",
        "gc.auto": "1",
    }
    for key, value in config.items():
        git.run(["config", key, value], cwd=repo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    findings = tmp_path / "findings.json"
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(repo), "-o", str(findings)],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr  # the planted token is found…
    plan = subprocess.run([sys.executable, "-m", "sanitize.cli", "plan", str(findings), "-o",
                           str(tmp_path / "plan.json")], capture_output=True, text=True, env=env)
    assert plan.returncode == 0, plan.stderr
    rw = subprocess.run([sys.executable, "-m", "sanitize.cli", "rewrite", str(tmp_path / "plan.json"),
                         "--workdir", str(tmp_path / "wd")], capture_output=True, text=True, env=env)
    assert rw.returncode == 0, rw.stderr
    assert sorted(p.name for p in marks.iterdir()) == []  # …and nothing the repository asked for ran
    # The traps are armed: plain git in that repository does run them.
    (repo / "app.py").write_text("print('changed')\n")
    subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, check=False)
    subprocess.run(["git", "diff"], cwd=repo, capture_output=True, check=False)
    assert {"fsmonitor", "filter-process"} <= {p.name for p in marks.iterdir()}
