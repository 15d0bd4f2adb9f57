"""Fixtures: the generated repositories with planted fake secrets (see demo/story_repo.py)."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.story_repo import DemoRepo, build_demo_repo


@pytest.fixture
def demo_repo(tmp_path: Path) -> Iterator[DemoRepo]:
    """The full fixture: the story plus every kind of secret on every sort of ref, and decoys."""
    yield build_demo_repo(tmp_path / "demo", seed=2026)


@pytest.fixture
def story_repo(tmp_path: Path) -> Iterator[DemoRepo]:
    """Only the DESIGN.md story (key.pem, transcript, auth.ts, users.ts, database.yml, .env)."""
    yield build_demo_repo(tmp_path / "story", seed=2026, story_only=True)


def secret_needles(repo: DemoRepo) -> set[str]:
    """Every planted value, plus every token-like run inside planted files (a key inside a transcript).

    Identifiers such as ``AWS_SECRET_ACCESS_KEY`` are names, not values: a needle has a digit and a letter.
    """
    needles = {p.value for p in repo.planted}
    for p in repo.planted:
        if p.kind == "path":
            needles |= {t for t in re.findall(r"[A-Za-z0-9/+_\-]{16,}", p.value)
                        if any(c.isdigit() for c in t) and any(c.isalpha() for c in t)}
    return needles
