"""Fixtures: the generated repositories with planted fake secrets (see sanitize/demo_repo.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sanitize.demo_repo import DemoRepo, build_demo_repo


@pytest.fixture
def demo_repo(tmp_path: Path) -> Iterator[DemoRepo]:
    """The full fixture: the story plus every kind of secret on every sort of ref, and decoys."""
    yield build_demo_repo(tmp_path / "demo", seed=2026)


@pytest.fixture
def story_repo(tmp_path: Path) -> Iterator[DemoRepo]:
    """Only the DESIGN.md story (key.pem, transcript, auth.ts, users.ts, database.yml, .env)."""
    yield build_demo_repo(tmp_path / "story", seed=2026, story_only=True)
