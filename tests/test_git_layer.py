"""Every git subprocess of the product goes through the git layer (``sanitize/git/``).

The product (``sanitize/``, ``rotation/``) is read as text: a module outside the layer that
imports ``subprocess`` (or starts processes through ``os``) fails this test unless it is one
of the few that run something other than git — ssh-keygen for signatures, an operator's
rotation command, the test and demo service launchers. The plumbing the stages share has
one home too: the object reader, ``ls-remote`` and URL redaction appear only in the layer.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("sanitize", "rotation")
LAYER = "sanitize/git/"
# Modules that start processes that are not git, and why.
ALLOWED = {
    "sanitize/signing.py": "ssh-keygen -Y sign/verify for approvals",
    "rotation/targets/command.py": "the operator's own rotation command",
    "sanitize/services.py": "launchers of the test and demo services (OpenBao, PostgreSQL, …)",
    "sanitize/demo.py": "the demo runs the CLI and ssh-keygen as a user would",
}
_SPAWN = re.compile(r"^\s*(?:import subprocess|from subprocess import)|\bos\.(?:system|popen|spawn\w*|exec\w+)\(",
                    re.M)


def _modules() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for top in PRODUCT for p in sorted((ROOT / top).rglob("*.py"))}


def test_no_module_outside_the_git_layer_starts_processes() -> None:
    offenders = sorted(name for name, text in _modules().items()
                       if _SPAWN.search(text) and not name.startswith(LAYER) and name not in ALLOWED)
    assert offenders == [], f"start git through sanitize.git (or add the module, with its reason, to ALLOWED): " \
                            f"{offenders}"


def test_the_allow_list_names_real_modules_that_start_processes() -> None:
    modules = _modules()
    assert [name for name in ALLOWED if name not in modules or not _SPAWN.search(modules[name])] == []
    assert any(_SPAWN.search(text) for name, text in modules.items() if name.startswith(LAYER))


def test_the_shared_plumbing_lives_only_in_the_layer() -> None:
    needles = {
        "object reader": re.compile(r"""["']--batch(?:-check)?(?:=|["'])|["']--batch-all-objects["']"""),
        "ls-remote parser": re.compile(r"""["']ls-remote["']"""),
        "URL redaction": re.compile(r"""\*\*\*@"""),
    }
    found = sorted(f"{what}: {name}" for name, text in _modules().items() if not name.startswith(LAYER)
                   for what, rx in needles.items() if rx.search(text))
    assert found == []
