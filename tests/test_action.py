"""The composite GitHub Action, run as the runner would: each ``run:`` step in bash on a real repository.

``uses:`` steps (setup-python, upload-sarif) belong to GitHub and are not run;
the test checks they are wired to the scan's outputs. Expressions are filled in
from the inputs, the ``github`` context and earlier steps' ``$GITHUB_OUTPUT``,
and each script runs under ``bash --noprofile --norc -eo pipefail`` like on a
runner, with the installed copy of the tool (a fresh venv from the wheel) on PATH.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import sanitize
from sanitize import git
from sanitize.secret import sha256_hex
from tests.plugins.installed_wheel import InstalledWheel

ROOT = Path(sanitize.__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
IDENT = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]


def token(seed: int) -> str:
    rng = random.Random(seed)
    return "gh" + "p_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


@dataclass
class StepResult:
    name: str
    returncode: int
    output: str
    outputs: dict[str, str] = field(default_factory=dict)


def run_action(repo: Path, tool: InstalledWheel, inputs: dict[str, str], github: dict[str, str],
               tmp: Path) -> list[StepResult]:
    """Every ``run:`` step in order, stopping at the first failure (as a runner does)."""
    values = {f"inputs.{k}": str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    values.update({f"inputs.{k}": v for k, v in inputs.items()})
    values["github.action_path"] = str(ROOT)
    values.update({f"github.{k}": v for k, v in github.items()})
    results: list[StepResult] = []
    env_base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env_base["PATH"] = f"{tool.bin}{os.pathsep}{env_base['PATH']}"
    for i, step in enumerate(ACTION["runs"]["steps"]):
        if "uses" in step:
            continue
        assert step["shell"] == "bash" and "if" not in step
        out_file, summary = tmp / f"output-{i}", tmp / "summary.md"
        out_file.write_text("")
        env = dict(env_base, GITHUB_OUTPUT=str(out_file), GITHUB_STEP_SUMMARY=str(summary),
                   GITHUB_WORKSPACE=str(repo))
        for key, raw in (step.get("env") or {}).items():
            env[key] = EXPR.sub(lambda m: values.get(m.group(1), ""), str(raw))
        script = tmp / f"step-{i}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)
        outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
        if "id" in step:
            values.update({f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()})
        results.append(StepResult(step["name"], proc.returncode, proc.stdout + proc.stderr, outputs))
        if proc.returncode != 0:
            break
    return results


def _repo(tmp_path: Path) -> tuple[Path, str, str, str]:
    """History: an old leak, a clean commit (the last push's tip), then a new leak (this push)."""
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    old, new = token(1), token(2)
    for name, text, msg in (("old.sh", f"TOKEN={old}\n", "old"), ("README.md", "# app\n", "readme")):
        (repo / name).write_text(text)
        git.run(["add", name], cwd=repo)
        git.run([*IDENT, "commit", "-qm", msg], cwd=repo)
    before = git.out(["rev-parse", "HEAD"], cwd=repo)
    (repo / "ci.sh").write_text(f"export GH_TOKEN={new}\n")
    git.run(["add", "ci.sh"], cwd=repo)
    git.run([*IDENT, "commit", "-qm", "ci"], cwd=repo)
    return repo, before, old, new


def _sarif_hashes(path: Path) -> list[str]:
    doc = json.loads(path.read_text())
    return [r["partialFingerprints"]["secretSha256/v1"] for run in doc["runs"] for r in run["results"]]


def test_action_is_a_composite_wired_to_upload_sarif() -> None:
    assert ACTION["runs"]["using"] == "composite"
    steps = ACTION["runs"]["steps"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "${{ steps.scan.outputs.sarif-file }}"
    assert "always()" in upload["if"]
    for s in steps:
        if "run" in s:  # inputs reach scripts through env only: no expression can inject shell code
            assert "${{" not in s["run"], s["name"]
    assert {"scope", "baseline", "sarif-file", "fail-on-findings", "package"} <= set(ACTION["inputs"])


@pytest.mark.timeout(1500)
def test_push_scope_scans_the_pushed_range_writes_sarif_and_fails(installed_wheel: InstalledWheel,
                                                                  tmp_path: Path) -> None:
    repo, before, old, new = _repo(tmp_path)
    head = git.out(["rev-parse", "HEAD"], cwd=repo)
    steps = run_action(repo, installed_wheel, {"package": str(installed_wheel.wheel)},
                       {"sha": head, "event.before": before}, tmp_path)
    by_name = {s.name: s for s in steps}
    assert by_name["Install git-sanitize"].returncode == 0, by_name["Install git-sanitize"].output
    scan = by_name["Scan for secrets"]
    assert scan.returncode == 0, scan.output
    assert scan.outputs == {"exit-code": "1", "findings": "1", "sarif-file": "git-sanitize.sarif"}
    assert _sarif_hashes(repo / "git-sanitize.sarif") == [sha256_hex(new)]  # the push's leak, not the old one
    fail = by_name["Fail on new findings"]
    assert fail.returncode == 1 and "::error::git-sanitize: 1 new secret finding(s)" in fail.output
    everything = "".join(s.output for s in steps) + (repo / "git-sanitize.sarif").read_text()
    assert new not in everything and old not in everything
    assert "**1** new finding(s)" in (tmp_path / "summary.md").read_text()


@pytest.mark.timeout(1500)
def test_full_scope_with_a_baseline_fails_only_on_what_is_new(installed_wheel: InstalledWheel,
                                                              tmp_path: Path) -> None:
    repo, before, _old, new = _repo(tmp_path)
    baseline = tmp_path / "accepted.json"
    # The team reviewed the history as of the last push and accepted what was there.
    clone = tmp_path / "then.git"
    git.run(["clone", "-q", "--bare", str(repo), str(clone)])
    git.run(["update-ref", "refs/heads/main", before], cwd=clone)
    proc = subprocess.run([str(installed_wheel.exe), "scan", str(clone), "-o", str(baseline)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    head = git.out(["rev-parse", "HEAD"], cwd=repo)
    steps = run_action(repo, installed_wheel, {"package": str(installed_wheel.wheel), "scope": "full",
                                               "baseline": str(baseline), "sarif-file": "out/scan.sarif"},
                       {"sha": head, "event.before": "0" * 40}, tmp_path)
    scan = next(s for s in steps if s.name == "Scan for secrets")
    assert scan.returncode == 2, scan.output  # out/ does not exist: bad input, the job stops at once
    (repo / "out").mkdir()
    steps = run_action(repo, installed_wheel, {"package": str(installed_wheel.wheel), "scope": "full",
                                               "baseline": str(baseline), "sarif-file": "out/scan.sarif"},
                       {"sha": head, "event.before": "0" * 40}, tmp_path)
    scan = next(s for s in steps if s.name == "Scan for secrets")
    assert scan.outputs["exit-code"] == "1" and scan.outputs["findings"] == "1"
    assert _sarif_hashes(repo / "out" / "scan.sarif") == [sha256_hex(new)]
    assert steps[-1].returncode == 1

    # With the new leak accepted too, the same job passes.
    subprocess.run([str(installed_wheel.exe), "scan", str(repo), "-o", str(baseline)], capture_output=True,
                   timeout=300)
    steps = run_action(repo, installed_wheel, {"package": str(installed_wheel.wheel), "scope": "full",
                                               "baseline": str(baseline)},
                       {"sha": head, "event.before": "0" * 40}, tmp_path)
    assert [s.returncode for s in steps] == [0, 0, 0]
    assert steps[1].outputs["exit-code"] == "0" and _sarif_hashes(repo / "git-sanitize.sarif") == []


def _gitlab_job() -> dict[str, Any]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("**GitLab CI.**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    return dict(yaml.safe_load(block)["git-sanitize"])


def test_readmes_gitlab_snippet_scans_the_pushed_range(tmp_path: Path) -> None:
    job = _gitlab_job()
    assert job["variables"]["GIT_DEPTH"] == "0" and job["artifacts"]["paths"] == ["git-sanitize.sarif"]
    repo, before, old, new = _repo(tmp_path)
    head = git.out(["rev-parse", "HEAD"], cwd=repo)
    script = tmp_path / "job.sh"
    script.write_text("\n".join(job["script"]))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT), CI_COMMIT_SHA=head)
    for before_sha, expected in ((before, [sha256_hex(new)]), ("0" * 40, sorted([sha256_hex(old), sha256_hex(new)]))):
        proc = subprocess.run(["bash", "-e", str(script)], cwd=repo, capture_output=True, text=True, timeout=300,
                              env=dict(env, CI_COMMIT_BEFORE_SHA=before_sha))
        assert proc.returncode == 1, proc.stderr  # findings fail the job
        assert sorted(_sarif_hashes(repo / "git-sanitize.sarif")) == expected
        assert new not in proc.stdout + proc.stderr
