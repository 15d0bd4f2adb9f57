"""Shared test configuration. Service and fixture-builder fixtures live in
``tests/plugins/*.py`` (one module per service), loaded here automatically."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.plugins.{p.stem}" for p in (Path(__file__).parent / "plugins").glob("*.py") if p.stem != "__init__"
)
