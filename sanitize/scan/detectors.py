"""Find secrets in one blob or message: a one-pass prefilter, then only the rules it points at.

Every rule contributes prefilter keywords to one hyperscan database; a blob is
scanned once by it, and only the rules (ours and detect-secrets' regex
plugins) whose keywords occur run their full pattern, and only on the lines
that hold a keyword (multi-line rules, such as private key blocks, on the
whole blob). Python's case-insensitive regexes over whole blobs were 20x
slower on pytest's history than this. Values
never leave this module except as :class:`Hit` (hashes and a ≤4-char
preview) or, for :func:`Detector.values`, as :class:`~sanitize.secret.Secret`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import hyperscan
from detect_secrets.filters import heuristic
from detect_secrets.plugins.base import RegexBasedDetector

from sanitize.scan.rules import BUILTIN_CONTENT_RULES, BUILTIN_PATH_RULES, ContentRule, PathRule, is_placeholder
from sanitize.secret import Secret, preview_of, sha256_hex

BINARY_PROBE = 8192  # git (and filter-repo) call a blob binary when a NUL is in its first 8 KiB
ALLOWLIST_PRAGMA = "pragma: allowlist secret"  # detect-secrets' inline allowlist comment


@dataclass(frozen=True)
class Hit:
    """One detected secret, without its value."""

    rule: str
    kind: str  # "path" | "content"
    line: int | None
    secret_sha256: str
    secret_sha1: str  # detect-secrets baselines key on SHA-1 of the value
    preview: str


def _hit(rule: str, kind: str, line: int | None, value: str | bytes) -> Hit:
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    shown = value if isinstance(value, str) else value.decode("utf-8", "replace")
    # A file's first characters may be a newline or a tab: keep the preview on one printable line.
    preview = "".join(c if c.isprintable() else "·" for c in preview_of(shown))
    return Hit(rule, kind, line, sha256_hex(raw), hashlib.sha1(raw, usedforsecurity=False).hexdigest(), preview)


# --- detect-secrets plugins ---------------------------------------------------------------


@dataclass(frozen=True)
class PluginRule:
    """A detect-secrets regex plugin, reported as ``ds.<ClassName>``, behind our prefilter."""

    plugin: RegexBasedDetector
    keywords: tuple[str, ...] = ()
    hs_patterns: tuple[str, ...] = ()
    caseless: bool = True
    extend: re.Pattern[str] | None = None  # the plugin's match stops early: extend it over these characters

    @property
    def id(self) -> str:
        return f"ds.{type(self.plugin).__name__}"


def _plugins() -> tuple[PluginRule, ...]:
    """The detect-secrets plugins whose formats are specific enough for whole histories.

    Left out on purpose: KeywordDetector and the high-entropy plugins (they flag
    lockfile hashes and commit ids; our keyword/default rules cover assignments),
    IPPublicDetector (not a secret), the IBM/SoftLayer assignment plugins whose
    optional prefixes make them generic keyword matchers, and GitLabTokenDetector
    (its first group is the prefix, so every value was too short; the
    ``token.gitlab-*`` formats in :mod:`sanitize.scan.providers` cover GitLab).
    """
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        basic_auth,
        cloudant,
        discord,
        github_token,
        jwt,
        mailchimp,
        npm,
        openai,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    return (
        PluginRule(aws.AWSKeyDetector(), ("akia", "asia", "abia", "acca", "a3t", "aws")),
        PluginRule(github_token.GitHubTokenDetector(), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), caseless=False),
        PluginRule(slack.SlackDetector(), ("xox", "hooks.slack.com")),
        PluginRule(stripe.StripeDetector(), ("k_live_",), caseless=False),
        PluginRule(openai.OpenAIDetector(), ("T3BlbkFJ",), caseless=False),
        PluginRule(basic_auth.BasicAuthDetector(), hs_patterns=(r"://[^{}\s]+:[^{}\s]+@",)),
        PluginRule(artifactory.ArtifactoryDetector(), ("akc",),
                   hs_patterns=(r"(?:\s|=|:|\"|^)AP[0-9ABCDEF][a-zA-Z0-9]{8}",), caseless=False),
        PluginRule(azure_storage_key.AzureStorageKeyDetector(), ("accountkey=",)),
        PluginRule(cloudant.CloudantDetector(), ("cloudant",)),
        PluginRule(discord.DiscordBotTokenDetector(),
                   hs_patterns=(r"[MNO][a-zA-Z0-9_-]{23,25}\.[a-zA-Z0-9_-]{6}\.[a-zA-Z0-9_-]{27}",)),
        # Its pattern ends lazily after "header.payload."; the signature is part of the token.
        PluginRule(jwt.JwtTokenDetector(), ("eyJ",), caseless=False, extend=re.compile(r"[A-Za-z0-9_\-.+/=]*")),
        PluginRule(mailchimp.MailchimpDetector(), hs_patterns=(r"[0-9a-z]{32}-us[0-9]",)),
        PluginRule(npm.NpmDetector(), ("_authtoken",)),
        PluginRule(pypi_token.PypiTokenDetector(), ("pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw")),
        PluginRule(sendgrid.SendGridDetector(), ("sg.",), caseless=False),
        PluginRule(square_oauth.SquareOAuthDetector(), ("sq0csp-",)),
        PluginRule(telegram_token.TelegramBotTokenDetector(), hs_patterns=(r"[0-9]{8,10}:[0-9A-Za-z_-]{35}",)),
        PluginRule(twilio.TwilioKeyDetector(), hs_patterns=(r"AC[a-z0-9]{32}", r"SK[a-z0-9]{32}")),
    )


def _plugin_accepts(value: str, line: str, path: str) -> bool:
    # detect-secrets' own filters for its regex plugins, plus our placeholder shapes.
    if ALLOWLIST_PRAGMA in line:
        return False
    if path and heuristic.is_lock_file(path):
        return False
    return len(value) >= 8 and not is_placeholder(value)


# --- the detector -------------------------------------------------------------------------

Rule = ContentRule | PluginRule


class Detector:
    """Compiled rules and the prefilter database; build once, share with forked workers."""

    def __init__(self, extra_rules: Sequence[ContentRule] = (), *, path_rules: Sequence[PathRule] = BUILTIN_PATH_RULES,
                 use_plugins: bool = True) -> None:
        self.content_rules: tuple[ContentRule, ...] = (*BUILTIN_CONTENT_RULES, *extra_rules)
        self.plugin_rules: tuple[PluginRule, ...] = _plugins() if use_plugins else ()
        self.path_rules = tuple(path_rules)
        self.rules: tuple[Rule, ...] = (*self.content_rules, *self.plugin_rules)
        # Rules without any prefilter pattern (custom rules without keywords) always run.
        self._always: list[int] = []
        expressions: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        for index, rule in enumerate(self.rules):
            if not rule.keywords and not rule.hs_patterns:
                self._always.append(index)
                continue
            # Line-local rules need every keyword position (they run on those lines only);
            # a multi-line rule needs one (it runs over the whole blob).
            base = hyperscan.HS_FLAG_SINGLEMATCH if _whole_blob(rule) else 0
            for kw in rule.keywords:
                expressions.append(re.escape(kw).encode("utf-8"))
                ids.append(index)
                flags.append(base | (hyperscan.HS_FLAG_CASELESS if rule.caseless else 0))
            for pattern in rule.hs_patterns:
                expressions.append(pattern.encode("utf-8"))
                ids.append(index)
                flags.append(base)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)

    # -- prefilter -------------------------------------------------------------------------

    def candidates(self, data: bytes) -> dict[int, list[int]]:
        """Rule index → end offsets of its keyword matches in ``data`` (empty list: run on all of it)."""
        found: dict[int, list[int]] = {i: [] for i in self._always}

        def on_match(rule_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            found.setdefault(rule_id, []).append(end)

        self._db.scan(data, match_event_handler=on_match)
        return found

    # -- detection -------------------------------------------------------------------------

    def _matches(self, data: bytes, path: str, *, any_path: bool = False) -> Iterator[tuple[str, int, str]]:
        """(rule id, line, value) for every accepted match, rules in priority order.

        Line-local rules run only on the lines that hold one of their keywords;
        multi-line and keyword-less rules run over the whole blob. ``any_path``
        runs path-restricted rules too, as if the blob sat at a path each accepts.
        """
        found = self.candidates(data)
        for index in sorted(found):
            rule = self.rules[index]
            if isinstance(rule, ContentRule) and not any_path and not rule.applies_to(path):
                continue
            if _whole_blob(rule) or not found[index]:
                spans = [(0, len(data))]
            else:
                starts = sorted({data.rfind(b"\n", 0, end) + 1 for end in found[index]})
                spans = []
                for ls in starts:
                    le = data.find(b"\n", ls)
                    spans.append((ls, le if le >= 0 else len(data)))
            if isinstance(rule, ContentRule):
                yield from _content_matches(rule, data, spans)
            else:
                yield from _plugin_matches(rule, data, spans, path)

    def scan_blob(self, data: bytes, path: str) -> list[Hit]:
        """Path and content findings for one blob at ``path`` (one per distinct value)."""
        hits: list[Hit] = []
        seen: set[str] = set()
        binary = b"\0" in data[:BINARY_PROBE]
        name = path.rsplit("/", 1)[-1] if path else ""
        if not binary and not (name and heuristic.is_non_text_file(name)):
            for rule_id, line, value in self._matches(data, path):
                hit = _hit(rule_id, "content", line, value)
                if hit.secret_sha256 not in seen:
                    seen.add(hit.secret_sha256)
                    hits.append(hit)
        if path:
            content_hits = len(hits)
            for prule in self.path_rules:
                if prule.matches(path, data, content_hits):
                    hits.insert(0, _hit(prule.id, "path", None, data))
                    break
        return hits

    def scan_message(self, message: bytes) -> list[Hit]:
        """Findings in a commit or tag message (kind "message" is set by the caller)."""
        hits: list[Hit] = []
        seen: set[str] = set()
        for rule_id, line, value in self._matches(message, ""):
            hit = _hit(rule_id, "content", line, value)
            if hit.secret_sha256 not in seen:
                seen.add(hit.secret_sha256)
                hits.append(hit)
        return hits

    def values(self, data: bytes, path: str | None, *, any_path: bool = False) -> dict[str, Secret]:
        """secret_sha256 → the value, for every content secret in ``data`` (used by the plan).

        ``path`` must be where the blob was scanned, or path-restricted rules stay silent;
        ``any_path`` lifts those restrictions (a blob scanned under another of its names).
        """
        result: dict[str, Secret] = {}
        for _rule, _line, value in self._matches(data, path or "", any_path=any_path):
            result.setdefault(sha256_hex(value), Secret(value))
        return result


def _whole_blob(rule: Rule) -> bool:
    return isinstance(rule, ContentRule) and rule.multiline


def _content_matches(rule: ContentRule, data: bytes, spans: list[tuple[int, int]]) -> Iterator[tuple[str, int, str]]:
    for ls, le in spans:
        for m in rule.compiled.finditer(data, ls, le):
            raw = m.group(rule.secret_group)
            if not raw:
                continue
            value = raw.decode("utf-8", "surrogateescape")
            if not rule.accepts(m, value):
                continue
            start = m.start(rule.secret_group)
            if ALLOWLIST_PRAGMA.encode() in _line_at(data, start):
                continue
            yield rule.rule_id(m), data.count(b"\n", 0, start) + 1, value


def _plugin_matches(rule: PluginRule, data: bytes, spans: list[tuple[int, int]],
                    path: str) -> Iterator[tuple[str, int, str]]:
    # detect-secrets plugins are line-based: give them each candidate line, as detect-secrets does.
    for ls, le in spans:
        line = data[ls:le].decode("utf-8", "surrogateescape")
        for regex in rule.plugin.denylist:
            for m in regex.finditer(line):
                group = next((g for g in range(1, (m.lastindex or 0) + 1) if m.group(g)), 0)
                value = m.group(group)
                if rule.extend is not None:
                    tail = rule.extend.match(line, m.end(group))
                    value += tail.group(0) if tail else ""
                # The plugin's own validation (a JWT's header and payload decode to JSON) runs in its
                # analyze_string, which we bypass to keep the line numbers: apply it here.
                valid = getattr(rule.plugin, "is_formally_valid", None)
                if valid is not None and not valid(value):
                    continue
                if line[m.start():m.start(group)].endswith(f"/{value}:"):
                    continue  # scheme://postgres:postgres@: a stock development login (user == password)
                if _plugin_accepts(value, line, path):
                    yield rule.id, data.count(b"\n", 0, ls) + 1, value


def _line_at(data: bytes, pos: int) -> bytes:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return data[start : end if end >= 0 else len(data)]


def message_body(obj_type: str, raw: bytes) -> tuple[bytes, int]:
    """The message of a commit or tag object and the object line its first line is on."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        return b"", 0
    return body, head.count(b"\n") + 2

