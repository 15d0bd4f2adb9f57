"""Checking a team's notice templates before the purge: syntax, variables, a full render.

``notify`` renders with ``StrictUndefined``: a template that names a variable
the notices do not get fails at stage 4, after the rewrite. Here every
override is parsed, its variables compared with the ones ``notify`` passes,
and it is rendered once with a sample context of the same shape (made-up
ids and names, no value from any plan), so the problem is found before stage 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, meta

from sanitize.collaborator.notify import Collaborator, _environment

#: The variables ``notify`` gives every template.
CONTEXT_KEYS = frozenset({
    "repo", "repo_name", "digest", "deadline", "freeze", "changed", "first_changed", "removed", "fix_in_code",
    "pr_refs", "lfs", "old_commit_count", "deleted_branches", "machines", "dropped", "safe_commands",
    "keep_commands", "reset_commands", "migrate_commands", "selfcheck_commands", "kit_dir", "required_env",
    "renamed",
})
#: What some templates get on top: each notice its ``person``, the team summary ``people`` and ``everyone``.
EXTRA_KEYS = {"notice.md.j2": {"person"}, "notice.txt.j2": {"person"}, "notice.eml.j2": {"person"},
              "team-summary.md.j2": {"people", "everyone"}}


def sample_context(template: str) -> dict[str, Any]:
    """A context shaped like the one ``notify`` builds for ``template``, every list non-empty (so loops run)."""
    person = Collaborator(name="Sample Person", email="sample@example.invalid", role="contributor",
                          refs=["refs/heads/main"], in_history=True)
    bot = Collaborator(name="sample-bot[bot]", email="bot@users.noreply.example.invalid", in_history=True)
    old, new, first = "1" * 40, "2" * 40, "3" * 40
    keep = ["mkdir -p kit", "git-sanitize migrate --commit-map kit/commit-map --purged kit/purged.json"]
    ctx: dict[str, Any] = {
        "repo": "https://example.invalid/team/app.git", "repo_name": "app", "digest": "4" * 64,
        "deadline": "2026-12-31", "freeze": "no pushes until the purge is confirmed",
        "changed": [{"ref": "refs/heads/main", "old": old, "new": new, "action": "rewritten"},
                    {"ref": "refs/heads/old-feature", "old": old, "new": None, "action": "deleted"}],
        "first_changed": [first],
        "removed": {"paths": [".env"], "replacements": 1, "rules": ["default.jwt-secret"], "messages": 0},
        "fix_in_code": [{"path": "server/auth.ts", "line": 3, "rule": "default.jwt-secret"}],
        "pr_refs": ["refs/pull/1/head"], "lfs": [{"oid": "5" * 64, "size": "10"}], "old_commit_count": 2,
        "deleted_branches": ["old-feature"], "machines": [bot], "dropped": 0,
        "safe_commands": ["git clone https://example.invalid/team/app.git app-clean"],
        "keep_commands": keep, "reset_commands": keep, "migrate_commands": keep,
        "selfcheck_commands": [f"git cat-file -e {first} && echo FAIL || echo ok"], "kit_dir": ["kit"],
        "required_env": ["JWT_SECRET"],
        "renamed": [{"ref": "[redacted:0123456789ab]", "old": old, "new": new, "action": "renamed",
                     "renamed_to": "refs/heads/redacted-0123456789ab"}],
    }
    extra = {"person": person, "people": [person], "everyone": [person, bot]}
    return {**ctx, **{k: v for k, v in extra.items() if k in EXTRA_KEYS.get(template, set())}}


def check_templates(directory: Path, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(problems, the template names ``directory`` overrides); each problem says the file, line and fix."""
    env = _environment(directory)
    problems: list[str] = []
    used = [n for n in names if (directory / n).is_file()]
    for name in used:
        path = directory / name
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read it ({exc.__class__.__name__}); make it readable UTF-8")
            continue
        try:
            known = CONTEXT_KEYS | EXTRA_KEYS.get(name, set())
            unknown = sorted(meta.find_undeclared_variables(env.parse(source, name=name)) - known)
        except TemplateSyntaxError as exc:
            problems.append(f"{path}:{exc.lineno}: {' '.join(str(exc.message).split())}; fix the Jinja syntax")
            continue
        if unknown:
            problems.append(f"{path}: uses {', '.join(unknown)}, which notices do not get; use only "
                            f"{', '.join(sorted(known))}")
            continue
        try:
            env.get_template(name).render(sample_context(name))
        except (TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError, ArithmeticError) as exc:
            why = " ".join(str(getattr(exc, "message", None) or exc or type(exc).__name__).split())
            problems.append(f"{path}: does not render ({why}); fix the template")
    return problems, used
