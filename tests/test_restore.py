"""restore: the original history comes back, every ref, from backup.bundle."""

import subprocess
import sys
from pathlib import Path

from sanitize import git
from sanitize.purge.restore import restore


def make_repo_and_bundle(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    for i in range(3):
        (repo / f"f{i}.txt").write_text(f"content {i}\n")
        git.run(["add", "."], cwd=repo)
        git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", f"c{i}"], cwd=repo)
    git.run(["branch", "side", "HEAD~1"], cwd=repo)
    git.run(["tag", "v1", "HEAD~2"], cwd=repo)
    workdir = tmp_path / "wd"
    workdir.mkdir(mode=0o700)
    git.run(["bundle", "create", str(workdir / "backup.bundle"), "--all"], cwd=repo)
    return repo, workdir


def test_restore_brings_back_every_ref(tmp_path: Path) -> None:
    repo, workdir = make_repo_and_bundle(tmp_path)
    result = restore(workdir, tmp_path / "back.git")
    assert result.refs == {k: v for k, v in git.refs(repo).items() if k.startswith("refs/")}


def test_restore_refuses_a_non_empty_target_and_a_corrupt_bundle(tmp_path: Path) -> None:
    _, workdir = make_repo_and_bundle(tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep").write_text("precious")
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "restore", "--workdir", str(workdir),
                           "--to", str(busy)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not empty" in proc.stderr and "Traceback" not in proc.stderr
    assert (busy / "keep").read_text() == "precious"
    data = (workdir / "backup.bundle").read_bytes()
    (workdir / "backup.bundle").write_bytes(data[: len(data) // 2])
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "restore", "--workdir", str(workdir)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "corrupt" in proc.stderr
