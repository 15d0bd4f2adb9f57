"""Fail-closed code: a hardcoded fallback default becomes "the variable is required".

Replacing the leaked literal in ``process.env.JWT_SECRET || "<leaked>"`` with
the marker leaves ``process.env.JWT_SECRET || "***REMOVED***"``: wherever the
variable is unset the application now runs with a publicly known secret, and a
token signed with ``***REMOVED***`` is accepted. So after ``--replace-text``
has put the marker in, the rewrite turns each such fallback into code that
stops the process with a clear message when the variable is missing, in every
commit of the history (the tips included), for the variable names the plan
lists.

Each rule is data: the construct it recognises (with the marker as the
fallback, so a rule never sees a secret), what it becomes, and an example
that the tests run. A fallback no rule recognises (a project's own
``getEnv("X", "…")`` helper) has no safe edit: the plan lists it as one to
fix by hand.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sanitize import git
from sanitize.artifacts.plan_actions import FixInCode
from sanitize.artifacts.plan_review import ByHand, FailClosed, FailClosedFix
from sanitize.purge.plan import MARKER, Plan, read_plan
from sanitize.secret import Secret

_M = re.escape(MARKER.encode())
_NAME = rb"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
_QM = rb"(?P<q>[\"'])" + _M + rb"(?P=q)"          # "***REMOVED***" or '***REMOVED***'
_QM_JS = rb"(?P<q>[\"'`])" + _M + rb"(?P=q)"      # JS also has template literals
_Q1 = rb"(?P<q1>[\"'])" + _NAME + rb"(?P=q1)"     # the variable's name as a string literal


def message(name: str) -> str:
    """What the process says when it stops: the variable's name and what to do."""
    return f"{name} must be set in the environment (the hardcoded default leaked and was removed)"


@dataclass(frozen=True)
class FailClosedRule:
    """One fallback construct and its fail-closed form; ``example`` is the marker-form input of its test."""

    id: str
    language: str
    pattern: bytes
    make: Callable[[str], str]  # variable name → the replacement text
    example: str

    @property
    def regex(self) -> re.Pattern[bytes]:
        return re.compile(self.pattern)


def _js(name: str) -> str:
    return f'(process.env.{name} || (() => {{ throw new Error("{message(name)}"); }})())'


def _go(name: str) -> str:
    return (f'func() string {{ v := os.Getenv("{name}"); if v == "" {{ panic("{message(name)}") }}; '
            f'return v }}()')


RULES: tuple[FailClosedRule, ...] = (
    FailClosedRule("js.env-or", "JavaScript/TypeScript",
                   rb"(?<![\w$.])process\.env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\||\?\?)\s*" + _QM_JS, _js,
                   f'const secret = process.env.JWT_SECRET || "{MARKER}";'),
    FailClosedRule("js.env-index-or", "JavaScript/TypeScript",
                   rb"(?<![\w$.])process\.env\[\s*" + _Q1 + rb"\s*\]\s*(?:\|\||\?\?)\s*" + _QM_JS, _js,
                   f"const pw = process.env['ADMIN_PASSWORD'] ?? '{MARKER}';"),
    FailClosedRule("python.environ-get", "Python",
                   rb"(?<![\w.])os\.(?:environ\.get|getenv|environ\.setdefault)\(\s*" + _Q1 + rb"\s*,\s*" + _QM
                   + rb"\s*\)", lambda n: f'os.environ["{n}"]',
                   f'SECRET_KEY = os.environ.get("SECRET_KEY", "{MARKER}")'),
    FailClosedRule("go.cmp-or", "Go",
                   rb"(?<![\w.])cmp\.Or\(\s*os\.Getenv\(\s*\"" + _NAME + rb"\"\s*\)\s*,\s*\"" + _M + rb"\"\s*\)", _go,
                   f'secret := cmp.Or(os.Getenv("JWT_SECRET"), "{MARKER}")'),
    FailClosedRule("kotlin.elvis", "Kotlin",
                   rb"(?<![\w.])System\.getenv\(\s*\"" + _NAME + rb"\"\s*\)\s*\?:\s*\"" + _M + rb"\"",
                   lambda n: f'System.getenv("{n}") ?: error("{message(n)}")',
                   f'val secret = System.getenv("JWT_SECRET") ?: "{MARKER}"'),
    FailClosedRule("java.optional-or-else", "Java",
                   rb"(?<![\w.])Optional\.ofNullable\(\s*System\.getenv\(\s*\"" + _NAME + rb"\"\s*\)\s*\)\s*"
                   rb"\.orElse\(\s*\"" + _M + rb"\"\s*\)",
                   lambda n: (f'Optional.ofNullable(System.getenv("{n}")).orElseThrow(() -> '
                              f'new IllegalStateException("{message(n)}"))'),
                   f'String secret = Optional.ofNullable(System.getenv("JWT_SECRET")).orElse("{MARKER}");'),
    FailClosedRule("java.require-non-null-else", "Java",
                   rb"(?<![\w.])Objects\.requireNonNullElse\(\s*System\.getenv\(\s*\"" + _NAME + rb"\"\s*\)\s*,\s*\""
                   + _M + rb"\"\s*\)",
                   lambda n: f'Objects.requireNonNull(System.getenv("{n}"), "{message(n)}")',
                   f'String secret = Objects.requireNonNullElse(System.getenv("JWT_SECRET"), "{MARKER}");'),
    FailClosedRule("csharp.coalesce", "C#",
                   rb"(?<![\w.])Environment\.GetEnvironmentVariable\(\s*\"" + _NAME + rb"\"\s*\)\s*\?\?\s*\"" + _M
                   + rb"\"",
                   lambda n: (f'(Environment.GetEnvironmentVariable("{n}") ?? '
                              f'throw new InvalidOperationException("{message(n)}"))'),
                   f'var secret = Environment.GetEnvironmentVariable("JWT_SECRET") ?? "{MARKER}";'),
    FailClosedRule("ruby.fetch-default", "Ruby",
                   rb"(?<![\w.])ENV\.fetch\(\s*" + _Q1 + rb"\s*(?:,\s*" + _QM + rb"\s*\)|\)\s*\{\s*" + _QM
                   .replace(b"(?P<q>", b"(?P<q2>").replace(b"(?P=q)", b"(?P=q2)") + rb"\s*\})",
                   lambda n: f'ENV.fetch("{n}")', f'secret = ENV.fetch("JWT_SECRET", "{MARKER}")'),
    FailClosedRule("ruby.index-or", "Ruby",
                   rb"(?<![\w.$])ENV\[\s*" + _Q1 + rb"\s*\]\s*(?:\|\||\bor\b)\s*" + _QM,
                   lambda n: f'ENV.fetch("{n}")', f'secret = ENV["JWT_SECRET"] || "{MARKER}"'),
    FailClosedRule("php.getenv-elvis", "PHP (8.0+)",
                   rb"(?<![\w.>:\\$])getenv\(\s*" + _Q1 + rb"\s*\)\s*\?:\s*" + _QM,
                   lambda n: f"(getenv('{n}') ?: throw new \\RuntimeException('{message(n)}'))",
                   f"$secret = getenv('JWT_SECRET') ?: '{MARKER}';"),
    FailClosedRule("php.superglobal-coalesce", "PHP (8.0+)",
                   rb"\$(?P<sg>_ENV|_SERVER)\[\s*" + _Q1 + rb"\s*\]\s*(?:\?\?|\?:)\s*" + _QM,
                   lambda n: f"($_ENV['{n}'] ?? throw new \\RuntimeException('{message(n)}'))",
                   f"$secret = $_ENV['JWT_SECRET'] ?? '{MARKER}';"),
    FailClosedRule("shell.default", "shell / Compose",
                   rb"\$\{" + _NAME + rb":?[-=]" + _M + rb"\}",
                   lambda n: "${" + n + ":?" + n + " must be set in the environment}",
                   f'export DB_PASSWORD="${{DB_PASSWORD:-{MARKER}}}"'),
)


def _replacer(rule: FailClosedRule, names: frozenset[str] | None) -> Callable[[re.Match[bytes]], bytes]:
    def replace(m: re.Match[bytes]) -> bytes:
        name = m.group("name").decode("ascii")
        if names is not None and name not in names:
            return m.group(0)
        text = rule.make(name)
        if rule.id == "php.superglobal-coalesce":
            text = text.replace("$_ENV", "$" + m.group("sg").decode("ascii"))
        return text.encode("utf-8")

    return replace


def apply(data: bytes, names: Iterable[str] | None = None) -> bytes:
    """``data`` with every marker fallback of ``names`` (None: any name) made fail-closed."""
    if MARKER.encode() not in data:
        return data
    allowed = frozenset(names) if names is not None else None
    for rule in RULES:
        data = rule.regex.sub(_replacer(rule, allowed), data)
    return data


@dataclass(frozen=True)
class Edit:
    """One fallback found at a line: which rule makes it fail closed, for which variable (None: no rule)."""

    line: int
    rule: str | None
    name: str | None


def edits_at(data: bytes, line: int) -> list[Edit]:
    """The fail-closed edits that touch ``line`` (1-based) of ``data`` (already in marker form)."""
    found: list[Edit] = []
    for rule in RULES:
        for m in rule.regex.finditer(data):
            first = data.count(b"\n", 0, m.start()) + 1
            last = data.count(b"\n", 0, m.end()) + 1
            if first <= line <= last:
                found.append(Edit(line, rule.id, m.group("name").decode("ascii")))
    return found


def diff(path: str, before: bytes, after: bytes) -> str:
    """A unified diff of the changed lines only (no context: other lines of the file are not shown)."""
    a = before.decode("utf-8", "replace").splitlines(keepends=True)
    b = after.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"a/{path}", tofile=f"b/{path}", n=0)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _marker_form(data: bytes, literals: Iterable[bytes]) -> bytes:
    """``data`` as ``--replace-text`` leaves it: every planned literal replaced by the marker, longest first."""
    for lit in sorted(set(literals), key=len, reverse=True):
        if lit:
            data = data.replace(lit, MARKER.encode())
    return data


def _blob(repo: str, spec: str) -> bytes | None:
    proc = git.run(["cat-file", "blob", spec], cwd=repo, check=False)
    return proc.stdout if proc.returncode == 0 else None


def history_names(repo: str, defaults: Iterable[tuple[str, int]], literals: list[bytes]) -> set[str]:
    """The variables of every planned fallback default in history (blob id, line): each one the rewrite
    makes fail closed in every commit, not only at the tips."""
    names: set[str] = set()
    by_blob: dict[str, set[int]] = {}
    for blob, line in defaults:
        by_blob.setdefault(blob, set()).add(line)
    for blob, lines in sorted(by_blob.items()):
        data = _blob(repo, blob)
        if data is None:
            continue
        data = _marker_form(data, literals)
        names.update(e.name for line in lines for e in edits_at(data, line) if e.name)
    return names


def propose(repo: str, tips: Mapping[str, str], items: Iterable[FixInCode], planned: Iterable[Secret],
            known: Iterable[Secret] = (), defaults: Iterable[tuple[str, int]] = ()) -> FailClosed:
    """The plan's ``fail_closed`` section: every planned fallback default, and each one still at a branch tip.

    ``items``: the "fix in code" items (a default at a branch tip); ``defaults``: (blob, line) of every
    planned default finding in history; ``planned``: every literal plan.secrets replaces; ``known``: every
    recovered value, planned or held back, so none of them shows in a diff. Returns the variables the
    rewrite makes required everywhere, one diff per tip file, and the tip items no rule can edit.
    """
    literals = [s.reveal().encode("utf-8", "surrogateescape") for s in planned]
    hide = [s.reveal().encode("utf-8", "surrogateescape") for s in known] + literals
    by_file: dict[tuple[str, str], list[FixInCode]] = {}
    for item in items:
        by_file.setdefault((item.ref, item.path), []).append(item)
    names: set[str] = history_names(repo, defaults, literals)
    fixes: list[FailClosedFix] = []
    by_hand: list[ByHand] = []
    for (ref, path), found in sorted(by_file.items()):
        tip = tips.get(ref)
        data = _blob(repo, f"{tip}:{path}") if tip else None
        if data is None:
            continue
        before = _marker_form(data, literals)
        file_names: set[str] = set()
        rules: set[str] = set()
        for item in found:
            edits = [e for e in edits_at(before, item.line) if e.rule is not None]
            if not edits:
                by_hand.append(ByHand(ref=ref, path=path, line=item.line, rule=item.rule, finding_id=item.finding_id,
                                      reason="no fail-closed rule for this construct (a constant, or a project's own "
                                             "helper): after the rewrite it holds the marker; make it read the "
                                             "environment and stop when the variable is unset"))
                continue
            file_names.update(e.name for e in edits if e.name)
            rules.update(e.rule for e in edits if e.rule)
        if not file_names:
            continue
        names |= file_names
        after = apply(before, names | file_names)
        fixes.append(FailClosedFix(ref=ref, path=path, lines=tuple(sorted({i.line for i in found})),
                                   names=tuple(sorted(file_names)), rules=tuple(sorted(rules)),
                                   diff=diff(path, _marker_form(before, hide), _marker_form(after, hide))))
    return FailClosed(names=tuple(sorted(names)), fixes=tuple(fixes), by_hand=tuple(by_hand))


# Fallbacks with no safe edit: the push waits until each is acknowledged by name ----------------------
def unacknowledged(plan: Plan, acknowledged: Iterable[str]) -> list[ByHand]:
    """The by-hand items whose path nobody acknowledged (``approve --ack-code PATH``)."""
    done = set(acknowledged)
    return [item for item in plan.by_hand if item.path not in done]


def check_acknowledged(plan: Plan, paths: Iterable[str]) -> list[str]:
    """``paths`` given to ``--ack-code``, each checked against the plan (UsageError for a path it does not list)."""
    from sanitize.errors import UsageError

    listed = {item.path for item in plan.by_hand}
    given = list(dict.fromkeys(paths))
    unknown = [p for p in given if p not in listed]
    if unknown:
        raise UsageError(f"--ack-code {unknown[0]}: the plan lists no fallback without a safe edit there"
                         + (f" (it lists: {', '.join(sorted(listed))})" if listed else " (it lists none)"))
    return given


def waiting_message(items: list[ByHand], approve_hint: str) -> str:
    """Why the push waits, and the exact way on: fix each after the push, acknowledge it by name now."""
    places = list(dict.fromkeys(f"{i.path}:{i.line}" for i in items))  # one per place, not per ref
    shown = ", ".join(places[:4]) + (", …" if len(places) > 4 else "")
    import shlex

    acks = " ".join(f"--ack-code {shlex.quote(p)}" for p in dict.fromkeys(i.path for i in items))
    return (f"{len(places)} hardcoded fallback(s) at a branch tip have no safe fail-closed edit ({shown}): after the "
            f"rewrite they fall back to {MARKER}; fix them in code, and acknowledge each by name before the push: "
            f"{approve_hint} {acks}")


def waiting_in(wd: Any) -> list[ByHand]:
    """The by-hand items of the workdir's plan not yet acknowledged (``wd``: a :class:`~sanitize.workdir.Workdir`).

    A workdir without plan.json has none; an unreadable or malformed one is a UsageError, never "none"."""
    if not wd.plan.is_file():
        return []
    acks = wd.meta().extra.get("acknowledged_code")
    return unacknowledged(read_plan(wd.plan), acks if isinstance(acks, list) else [])


def acknowledge(wd: Any, paths: list[str], approver: str) -> None:
    """Record that ``approver`` acknowledged these fallbacks (they ship marker-form; fixed in code after)."""
    before = wd.meta().extra.get("acknowledged_code")
    wd.set_meta(acknowledged_code=sorted(set(before if isinstance(before, list) else []) | set(paths)))
    wd.audit.append("code-acknowledged", approver=approver, paths=paths)
