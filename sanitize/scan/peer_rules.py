"""A gitleaks / betterleaks rules file (``.gitleaks.toml``) as our content rules, unchanged.

A team that already keeps ``[[rules]]`` for gitleaks brings the file to ``--rules``.
Honoured, per rule: ``id``, ``description``, ``regex``, ``secretGroup``, ``keywords``,
``entropy`` (minimum Shannon entropy of the secret), ``path`` (the rule runs only on
matching paths), and ``allowlists`` / the older ``allowlist`` with ``regexes``
(``regexTarget`` ``secret``, the default, or ``match``), ``stopwords`` and ``paths``;
the file's global ``[allowlist]`` / ``[[allowlists]]`` apply to every rule.
Not honoured (read and ignored, as our defaults always run): ``[extend]``,
``tags``, ``commits``, ``regexTarget = "line"`` and ``condition = "AND"``
(allowlist entries are OR-ed). Go's RE2 syntax is translated where Python's
differs (POSIX classes such as ``[[:alnum:]]``, ``\\z``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sanitize.errors import UsageError
from sanitize.scan.rules import ContentRule, PathRule, path_rule

_POSIX = {"alnum": "A-Za-z0-9", "alpha": "A-Za-z", "digit": "0-9", "lower": "a-z", "upper": "A-Z",
          "space": r"\s", "xdigit": "0-9A-Fa-f", "word": r"\w", "punct": r"!-/:-@\[-`{-~"}


def is_gitleaks_config(data: Any) -> bool:
    """Whether a parsed TOML document is a gitleaks-style config (``[[rules]]`` of ``regex`` tables)."""
    if not isinstance(data, dict):
        return False
    if {"allowlist", "allowlists", "extend", "title"} & set(data):
        return True
    rules = data.get("rules")
    gitleaks_keys = {"secretGroup", "entropy", "allowlists", "allowlist", "path", "tags"}
    return isinstance(rules, list) and any(isinstance(r, dict) and set(r) & gitleaks_keys for r in rules)


def go_regex(pattern: str) -> str:
    """RE2 → Python ``re``: POSIX bracket classes and ``\\z``; the rest of RE2 is Python-compatible."""
    for name, chars in _POSIX.items():
        pattern = pattern.replace(f"[:{name}:]", chars)
    return pattern.replace(r"\z", r"\Z")


def _scoped(pattern: str) -> str:
    """A pattern with leading inline flags (``(?i)x``) as a group (``(?i:x)``), so it can be combined."""
    m = re.match(r"^\(\?([aiLmsux]+)\)", pattern)
    return f"(?{m.group(1)}:{pattern[m.end():]})" if m else f"(?:{pattern})"


def entropy(value: str) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) if value else 0.0


def rules_from_gitleaks(p: Path, data: Mapping[str, Any]) -> tuple[ContentRule | PathRule, ...]:
    """Every ``[[rules]]`` entry of a gitleaks config as a :class:`ContentRule` (a ``path``-only one, whose
    finding is the file itself, as a :class:`PathRule`); UsageError names a bad one."""
    global_lists = _allowlists(p, "global", data)
    out: list[ContentRule | PathRule] = []
    for index, entry in enumerate(data.get("rules") or []):
        if not isinstance(entry, dict):
            raise UsageError(f"{p}: rule #{index + 1} is not a table")
        rid = entry.get("id")
        regex = entry.get("regex")
        if not isinstance(rid, str) or not rid:
            raise UsageError(f"{p}: rule #{index + 1} needs a string 'id'")
        if not isinstance(regex, str) or not regex:
            path_only = entry.get("path")
            if not isinstance(path_only, str) or not path_only:
                raise UsageError(f"{p}: rule {rid} needs a 'regex' or a 'path'")
            out.append(path_rule(p, rid, str(entry.get("description", "")), path=go_regex(path_only)))
            continue
        keywords = entry.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
            raise UsageError(f"{p}: rule {rid}: 'keywords' must be a list of strings")
        pattern = go_regex(regex)
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise UsageError(f"{p}: rule {rid}: regex not readable as RE2/Python ({exc})") from None
        group = entry.get("secretGroup", 0)
        if not isinstance(group, int) or isinstance(group, bool) or not 0 <= group <= groups:
            raise UsageError(f"{p}: rule {rid}: 'secretGroup' must be a group number of its regex (0-{groups})")
        if group == 0 and groups:
            group = 1  # gitleaks reports the first group when none is named
        minimum = entry.get("entropy", 0)
        if not isinstance(minimum, int | float) or isinstance(minimum, bool):
            raise UsageError(f"{p}: rule {rid}: 'entropy' must be a number")
        lists = [*global_lists, *_allowlists(p, rid, entry)]
        path = entry.get("path")
        out.append(ContentRule(
            id=rid, regex=pattern, keywords=tuple(keywords), secret_group=group, multiline=True, min_len=1,
            placeholder_check=False, check=_value_check(float(minimum), lists),
            paths=_path_filter(_scoped(go_regex(path)) if isinstance(path, str) else "", lists),
            description=str(entry.get("description", "")),
        ))
    if not out:
        raise UsageError(f"{p}: no [[rules]] with a regex")
    return tuple(out)


def _allowlists(p: Path, where: str, table: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = table.get("allowlists", [])
    if isinstance(table.get("allowlist"), dict):
        raw = [*raw, table["allowlist"]] if isinstance(raw, list) else raw
    if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
        raise UsageError(f"{p}: {where}: 'allowlists' must be a list of tables")
    lists = []
    for a in raw:
        compiled: dict[str, Any] = {"target": a.get("regexTarget", "secret")}
        try:
            compiled["regexes"] = [re.compile(go_regex(str(r))) for r in a.get("regexes", [])]
            compiled["paths"] = [_scoped(go_regex(str(r))) for r in a.get("paths", [])]
            for r in compiled["paths"]:
                re.compile(r)
        except re.error as exc:
            raise UsageError(f"{p}: {where}: allowlist regex not readable as RE2/Python ({exc})") from None
        compiled["stopwords"] = [str(w).lower() for w in a.get("stopwords", [])]
        lists.append(compiled)
    return lists


def _value_check(minimum: float, lists: Sequence[dict[str, Any]]) -> Callable[[str], bool] | None:
    value_lists = [a for a in lists if a["target"] in ("secret", "match") and (a["regexes"] or a["stopwords"])]
    if not minimum and not value_lists:
        return None

    def check(value: str) -> bool:
        if minimum and entropy(value) < minimum:
            return False
        low = value.lower()
        return not any(any(r.search(value) for r in a["regexes"]) or any(w in low for w in a["stopwords"])
                       for a in value_lists)

    return check


def _path_filter(include: str, lists: Sequence[dict[str, Any]]) -> str:
    """One path regex: must match the rule's ``path`` (if any) and none of the allowlisted paths."""
    excluded = [r for a in lists for r in a["paths"]]
    if not include and not excluded:
        return ""
    parts = ["^"]
    if include:
        parts.append(f"(?=.*{include})")
    if excluded:
        parts.append(f"(?!.*(?:{'|'.join(excluded)}))")
    return "".join(parts)
