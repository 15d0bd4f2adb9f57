"""The recall/precision report (bench.detection) and the blob dump detect-secrets scans (bench.blobs).

Not a benchmark: these check the bookkeeping (what counts as found, as a decoy, as rewritten)
on tiny repositories whose values are generated from a seed.
"""

from __future__ import annotations

import random
import string
import subprocess
from pathlib import Path

import pytest

from bench import blobs, detection, recall
from bench.peers import find_binary
from sanitize.secret import sha256_hex

ALNUM = string.ascii_letters + string.digits


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
        git(repo, "add", "--", rel)
    git(repo, "-c", "user.name=T", "-c", "user.email=t@example.test", "commit", "-qm", message)


@pytest.fixture
def small_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """Two versions of one file and a second file, each holding a password generated from a seed."""
    rng = random.Random(1010)
    values = ["".join(rng.choice(ALNUM) for _ in range(24)) for _ in range(3)]
    repo = tmp_path / "small"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"app/settings.py": f'DB_PASSWORD = "{values[0]}"\n'}, "one")
    commit(repo, {"app/settings.py": f'DB_PASSWORD = "{values[1]}"\n', "docs/x.md": f"password: {values[2]}\n"},
           "two")
    return repo, values


def test_every_unique_blob_is_written_once_under_its_path(small_repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    repo, values = small_repo
    root = tmp_path / "out"
    assert blobs.write_blobs(repo, root) == 3  # two versions of settings.py, one x.md
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert sorted(blobs.original_path(w) for w in written) == ["app/settings.py", "app/settings.py", "docs/x.md"]
    texts = "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert all(v in texts for v in values)


def test_a_path_that_would_leave_the_output_directory_is_refused() -> None:
    assert blobs._safe("../escape") is None and blobs._safe("/abs") is None
    assert blobs._safe("a/b.txt") is not None


@pytest.mark.skipif(find_binary("detect-secrets") is None, reason="detect-secrets is not installed")
def test_detect_secrets_reports_history_values_under_their_original_paths(small_repo: tuple[Path, list[str]],
                                                                         tmp_path: Path) -> None:
    repo, values = small_repo
    scanner = next(s for s in recall.SCANNERS if s.name == "detect-secrets")
    result = recall.run_scanner(scanner, repo, tmp_path, None)
    assert not result.skipped
    ids = {v for _, v in result.values}
    # The first version of settings.py is no longer at the tip: only a history scan sees it.
    first = detection.value_ids(values[0])
    assert first & ids
    assert {p for p, v in result.values if v in first} == {"app/settings.py"}


def test_judge_counts_planted_values_whole_files_and_decoys() -> None:
    rng = random.Random(77)
    planted, other, decoy = ("".join(rng.choice(ALNUM) for _ in range(30)) for _ in range(3))
    truth = detection.Truth(value_ids=(detection.value_ids(planted), detection.value_ids(other)),
                            planted_paths=(".env",), decoy_paths=frozenset({"docs/setup.md"}))
    res = recall.Result("x", values={("a.py", sha256_hex(planted)), (".env", sha256_hex(other + "x")),
                                     ("docs/setup.md", sha256_hex(decoy))})
    row = detection.Row(res)
    detection.judge(row, truth)
    assert (row.found, truth.total, row.decoys) == (2, 3, 1)  # planted value + the whole file; `other` missed
    # detect-secrets' SHA-1 form counts as the same value.
    row = detection.Row(recall.Result("ds", values={("b.py", "sha1:" + __import__("hashlib").sha1(
        other.encode()).hexdigest())}))
    detection.judge(row, truth)
    assert (row.found, row.decoys) == (1, 0)


def test_fixture_report_finds_every_plant_and_plans_every_value(tmp_path: Path) -> None:
    ours = [s for s in recall.SCANNERS if s.name == "git-sanitize"]
    out = detection.report([("fixture", None)], ours)
    row = next(line for line in out.splitlines() if line.startswith("| fixture | git-sanitize |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    found, total = cells[2].split(" (")[0].split(" of ")
    assert found == total and int(total) > 10 and "(0 decoy)" in cells[2]
    assert int(cells[-2]) == int(cells[3])  # the default plan rewrites every distinct value it found
    assert "refused" not in out
