"""The foundation: the secret type redacts, the CLI answers, git plumbing refuses non-repositories."""

import subprocess
import sys

import pytest

from sanitize import git
from sanitize.errors import GitError
from sanitize.secret import Secret, preview_of, sha256_hex


def test_secret_never_formats_its_value() -> None:
    value = "correct-horse-battery-staple"
    s = Secret(value)
    for rendered in (str(s), repr(s), f"{s}", f"{s!r}", "%s" % s, str([s]), str({"k": s})):
        assert value not in rendered
    assert s.reveal() == value
    assert s.sha256 == sha256_hex(value)


def test_preview_shows_at_most_four_characters() -> None:
    assert preview_of("abcdefghijklmnopqrstuvwxyz") == "abcd…"
    assert preview_of("abcdefgh") == "ab…"
    assert preview_of("abc") == "…"


def test_cli_help_and_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "git-sanitize" in proc.stdout


def test_git_dir_refuses_a_plain_directory(tmp_path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        git.git_dir(tmp_path)
    with pytest.raises(GitError, match="no such file"):
        git.git_dir(tmp_path / "missing")
