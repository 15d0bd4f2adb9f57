"""What a rule id means to a person: shared by the sarif and markdown renderings.

Rule ids are ``family.name`` (``path.private-key``, ``dsn.password``,
``ds.AWSKeyDetector``); the scan's rule table owns them, so this only knows
families and falls back to a readable form of the id for anything new.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class RuleInfo:
    """How a finding of this rule is described and how severe it is."""

    title: str
    severity: float  # GitHub's security-severity: >= 9 critical, >= 7 high
    remedy: str
    description: str = ""  # the scan rule's own description, when the rule table has one


_FAMILIES: dict[str, RuleInfo] = {
    "path": RuleInfo("Secret-bearing file committed", 9.0,
                     "Delete the file from every commit (plan: delete-path) and rotate what it holds."),
    "default": RuleInfo("Hardcoded default secret", 8.5,
                        "Remove the literal fallback from the code, rewrite history, rotate the secret."),
    "dsn": RuleInfo("Password in a connection string", 9.0,
                    "Replace the password in history and rotate the database credential."),
    "token": RuleInfo("Provider credential", 9.0, "Revoke or roll it at the provider, rewrite history."),
    "aws": RuleInfo("AWS credential", 9.5, "Deactivate the key in IAM, rewrite history, issue a new key."),
    "github": RuleInfo("GitHub token", 9.0, "Revoke the token on GitHub, rewrite history."),
    "slack": RuleInfo("Slack token or webhook", 8.0, "Revoke it in Slack, rewrite history."),
    "stripe": RuleInfo("Stripe key", 9.0, "Roll the key in the Stripe dashboard, rewrite history."),
    "openai": RuleInfo("OpenAI API key", 8.5, "Revoke the key, rewrite history."),
    "private-key": RuleInfo("Private key block", 9.0, "Replace the key pair, rewrite history."),
    "curl": RuleInfo("Bearer token in a command", 8.0, "Revoke the token, rewrite history."),
    "keyword": RuleInfo("Credential assigned to a secret-named field", 7.5,
                        "Review; if real, rewrite history and rotate the secret."),
    "message": RuleInfo("Secret in a commit or tag message", 8.5, "Rewrite the message and rotate the secret."),
    "ds": RuleInfo("Secret found by detect-secrets", 7.5, "Review, rewrite history and rotate the secret."),
    "custom": RuleInfo("Secret matched by a custom rule", 7.5, "Review, rewrite history and rotate the secret."),
}
_FALLBACK = RuleInfo("Secret in git history", 7.5, "Review, rewrite history and rotate the secret.")

_SPECIFIC: dict[str, str] = {
    "path.private-key": "Private key file committed",
    "path.dotenv": ".env file committed",
    "path.credential-json": "JSON file holding credentials",
    "private-key.block": "Private key block",
    "curl.bearer": "Bearer token in a command",
    "default.jwt-secret": "Hardcoded default JWT secret",
    "default.admin-password": "Hardcoded default admin password",
    "dsn.password": "Password in a connection string",
    "aws.access-key": "AWS access key id",
    "aws.secret-key": "AWS secret access key",
    "github.token": "GitHub token",
}


def describe(rule: str) -> RuleInfo:
    """Title, severity and remedy for ``rule`` (known family, else a generic description)."""
    family, _, name = rule.partition(".")
    base = _FAMILIES.get(family, _FALLBACK)
    title = _SPECIFIC.get(rule)
    if title is None:
        title = f"{base.title}: {name}" if name and family in _FAMILIES else f"{base.title} ({rule})"
    return RuleInfo(title=title, severity=base.severity, remedy=base.remedy, description=_rule_descriptions(rule))


@cache
def _table() -> dict[str, str]:
    """Rule id (or ``family.`` for templated ids such as ``default.{name}``) → description, from the scan's table."""
    from sanitize.scan.rules import BUILTIN_CONTENT_RULES, BUILTIN_PATH_RULES

    found: dict[str, set[str]] = {}
    pairs = [(r.id, r.description) for r in BUILTIN_PATH_RULES] + [(r.id, r.description) for r in BUILTIN_CONTENT_RULES]
    for rid, text in pairs:
        if rid and text:
            found.setdefault(rid.split("{", 1)[0] if "{" in rid else rid, set()).add(text)
    # Several templated rules can share a family (default.{name}): then no single description is right.
    return {key: texts.pop() for key, texts in found.items() if len(texts) == 1}


def _rule_descriptions(rule: str) -> str:
    table = _table()
    if rule in table:
        return table[rule]
    family = rule.split(".", 1)[0] + "."
    return table.get(family, "")


def clean(text: str) -> str:
    """One printable line: control characters (a path may hold a newline) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def human_size(n: int) -> str:
    """``1536`` → ``1.5 KiB``: sizes in the terminal and Markdown reports, one convention."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
