"""README's "How the code is laid out" matches the tree: every product package and module is named there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## How the code is laid out", 1)[1]
    return section.split("```", 2)[1]


def test_every_product_package_is_in_the_layout() -> None:
    block = _layout_block()
    packages = sorted(p.parent.relative_to(ROOT / "sanitize").as_posix()
                      for p in (ROOT / "sanitize").glob("*/__init__.py"))
    assert packages, "no subpackages found"
    missing = [p for p in packages if not re.search(rf"^\s+{re.escape(p)}/", block, re.M)]
    assert not missing, f"packages under sanitize/ the README's layout does not name: {missing}"


def test_every_top_level_and_stage_module_is_in_the_layout() -> None:
    block = _layout_block()
    named = set(re.findall(r"\b([a-z_]+)\.py\b", block))
    modules = [p for p in (ROOT / "sanitize").glob("*.py") if p.name != "__init__.py"]
    for pkg in ("purge", "collaborator", "playbook"):
        modules += [p for p in (ROOT / "sanitize" / pkg).glob("*.py") if p.name != "__init__.py"]
    missing = sorted(str(p.relative_to(ROOT)) for p in modules if p.stem not in named)
    assert not missing, f"modules the README's layout does not name: {missing}"


def test_every_module_the_layout_names_exists() -> None:
    block = _layout_block()
    stems = {p.stem for p in ROOT.glob("sanitize/**/*.py")} | {p.stem for p in ROOT.glob("rotation/**/*.py")}
    stale = sorted(set(re.findall(r"\b([a-z_]+)\.py\b", block)) - stems)
    assert not stale, f"the README's layout names modules that do not exist: {stale}"


def test_the_stage_packages_hold_the_stages() -> None:
    """The tree shows the pipeline: each stage is one file in the package of its part of the procedure."""
    expected = {
        "purge": {"plan", "rewrite", "approval", "push", "verify", "guard", "restore"},
        "collaborator": {"notify", "migrate"},
        "playbook": {"config", "preflight", "runner"},
    }
    for pkg, stages in expected.items():
        present = {p.stem for p in (ROOT / "sanitize" / pkg).glob("*.py")}
        assert stages <= present, f"sanitize/{pkg}/ lacks {sorted(stages - present)}"
