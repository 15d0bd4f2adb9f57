"""Find secrets in one blob or message: a one-pass prefilter, then only the rules it points at.

Every rule contributes prefilter keywords to one hyperscan database; a blob is
scanned once by it, and only the rules (ours and detect-secrets' regex
plugins) whose keywords occur run their full pattern, and only on the lines
that hold a keyword (multi-line rules, such as private key blocks, on the
whole blob). Python's case-insensitive regexes over whole blobs were 20x
slower on pytest's history than this.

Rules run on *views* of a blob (:mod:`sanitize.scan.decode`): the blob itself
when it is text, with JSON string escapes read through on the lines that have
them, plus what decoding yields (base64 at the sites the prefilter points at,
gzip/zip/tar members, UTF-16/32 text). Each match carries the value, its
encoding, and the literal in the blob that holds it, which the plan replaces.
Values never leave this module except as :class:`Hit` (hashes and a ≤4-char
preview) or, for :func:`Detector.values`, as :class:`~sanitize.secret.Secret`.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import hyperscan
from detect_secrets.filters import heuristic
from detect_secrets.plugins.base import RegexBasedDetector

from sanitize.scan import decode
from sanitize.scan.providers import DISCORD_TOKEN_SHAPE
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
    encoding: tuple[str, ...] = ()  # how the value was decoded from the blob, outermost first


def _hit(rule: str, kind: str, line: int | None, value: str | bytes, encoding: tuple[str, ...] = ()) -> Hit:
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    shown = value if isinstance(value, str) else value.decode("utf-8", "replace")
    # A file's first characters may be a newline or a tab: keep the preview on one printable line.
    preview = "".join(c if c.isprintable() else "·" for c in preview_of(shown))
    return Hit(rule, kind, line, sha256_hex(raw), hashlib.sha1(raw, usedforsecurity=False).hexdigest(), preview,
               encoding)


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
                   hs_patterns=(DISCORD_TOKEN_SHAPE,)),
        # Its pattern ends lazily after "header.payload."; the signature is part of the token.
        PluginRule(jwt.JwtTokenDetector(), ("eyJ",), caseless=False, extend=re.compile(r"[A-Za-z0-9_\-.+/=]*")),
        PluginRule(mailchimp.MailchimpDetector(), hs_patterns=(r"[0-9a-z]{32}-us[0-9]",)),
        PluginRule(npm.NpmDetector(), ("_authtoken",)),
        PluginRule(pypi_token.PypiTokenDetector(), ("pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw")),
        PluginRule(sendgrid.SendGridDetector(), ("SG.",), caseless=False),
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


@dataclass(frozen=True)
class Found:
    """One accepted match in one view: the value, and the bytes in the blob that hold it."""

    rule: str
    line: int
    value: str
    literal: bytes | None  # what --replace-text must replace; None: only visible after decoding the blob
    encoding: tuple[str, ...]


class Detector:
    """Compiled rules and the prefilter database; build once, share with forked workers."""

    def __init__(self, extra_rules: Sequence[ContentRule | PathRule] = (), *,
                 path_rules: Sequence[PathRule] = BUILTIN_PATH_RULES, use_plugins: bool = True,
                 decoding: bool = True) -> None:
        extra_content = tuple(r for r in extra_rules if isinstance(r, ContentRule))
        self.content_rules: tuple[ContentRule, ...] = (*BUILTIN_CONTENT_RULES, *extra_content)
        self.plugin_rules: tuple[PluginRule, ...] = _plugins() if use_plugins else ()
        self.path_rules = (*path_rules, *(r for r in extra_rules if isinstance(r, PathRule)))
        self.rules: tuple[Rule, ...] = (*self.content_rules, *self.plugin_rules)
        self.sites: tuple[decode.Site, ...] = decode.SITES if decoding else ()
        self.decoding = decoding
        # Rules without any prefilter pattern (custom rules without keywords) always run.
        self._always: list[int] = []
        expressions: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        entries: list[tuple[Rule | decode.Site, bool]] = [(r, _whole_blob(r)) for r in self.rules]
        entries += [(site, site.whole) for site in self.sites]  # base64 sites: ids after the rules
        for index, (entry, whole) in enumerate(entries):
            if not entry.keywords and not entry.hs_patterns:
                self._always.append(index)
                continue
            # Line-local rules need every keyword position (they run on those lines only);
            # a multi-line rule needs one (it runs over the whole blob).
            base = hyperscan.HS_FLAG_SINGLEMATCH if whole else 0
            caseless = entry.caseless if isinstance(entry, Rule) else True
            for kw in entry.keywords:
                expressions.append(re.escape(kw).encode("utf-8"))
                ids.append(index)
                flags.append(base | (hyperscan.HS_FLAG_CASELESS if caseless else 0))
            for pattern in entry.hs_patterns:
                expressions.append(pattern.encode("utf-8"))
                ids.append(index)
                flags.append(base)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)

    # -- prefilter -------------------------------------------------------------------------

    def candidates(self, data: bytes) -> dict[int, list[int]]:
        """Rule (or site) index → end offsets of its keyword matches in ``data`` (empty list: run on all of it)."""
        found: dict[int, list[int]] = {i: [] for i in self._always}

        def on_match(rule_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            found.setdefault(rule_id, []).append(end)

        self._db.scan(data, match_event_handler=on_match)
        return found

    # -- detection -------------------------------------------------------------------------

    def _matches(self, data: bytes, path: str, found: dict[int, list[int]], *,
                 any_path: bool = False) -> Iterator[tuple[str, int, str, int, int, tuple[str, ...]]]:
        """(rule id, line, value, start, end, encoding) for every accepted match, rules in priority order.

        ``start:end`` is where the value sits in ``data`` (its JSON-escaped or
        URL-encoded form, if ``encoding`` says so). Line-local rules run only on
        the lines that hold one of their keywords, JSON-unescaped when the line
        has escapes; multi-line and keyword-less rules run over the whole blob.
        ``any_path`` runs path-restricted rules too, as if the blob sat at a path each accepts.
        """
        unescapes: dict[int, decode.Unescaped | None] = {}  # line start → that line unescaped, once per line
        for index in sorted(found):
            if index >= len(self.rules):
                break  # base64 sites: handled by the caller
            rule = self.rules[index]
            if isinstance(rule, ContentRule) and not any_path and not rule.applies_to(path):
                continue
            if _whole_blob(rule) or not found[index]:
                spans = [(0, len(data))]
            else:
                spans = decode.line_spans(data, found[index])
            for ls, le in spans:
                # A JSON string holds its lines as \n and its quotes as \": the rules read it unescaped.
                unescaped = None
                if not _whole_blob(rule) and data.find(b"\\", ls, le) >= 0:
                    if ls not in unescapes:
                        unescapes[ls] = decode.json_unescape(data[ls:le])
                    unescaped = unescapes[ls]
                buf, lo, hi = (unescaped.text, 0, len(unescaped.text)) if unescaped else (data, ls, le)
                if isinstance(rule, ContentRule):
                    matches = _content_matches(rule, buf, lo, hi)
                else:
                    matches = _plugin_matches(rule, buf, lo, hi, path)
                for rule_id, value, start, end in matches:
                    enc: tuple[str, ...] = ()
                    if unescaped is not None:
                        start = ls + unescaped.raw_offset(start, end=False)
                        end = ls + unescaped.raw_offset(end, end=True)
                        if data[start:end] != value.encode("utf-8", "surrogateescape"):
                            enc = ("json",)
                    elif _whole_blob(rule) and b"\\" in data[start:end]:
                        whole = decode.json_unescape(data[start:end])
                        if whole is not None and b'\\n' in data[start:end]:
                            value, enc = whole.text.decode("utf-8", "surrogateescape"), ("json",)
                    if rule_id in decode.URL_ENCODED_RULES:
                        plain = decode.url_decode(value)
                        if plain is not None:
                            value, enc = plain, (*enc, "url")
                    yield rule_id, data.count(b"\n", 0, start) + 1, value, start, end, enc

    def _found(self, data: bytes, path: str, *, any_path: bool = False, blob: bool = True) -> Iterator[Found]:
        """Every match in ``data`` and in what decoding it yields (containers only for blobs)."""
        budget = decode.Budget()
        name = path.rsplit("/", 1)[-1] if path else ""
        queue: deque[decode.View] = deque()
        binary = b"\0" in data[:BINARY_PROBE]
        encoded = self.decoding and blob and (binary or data.startswith((b"\xff\xfe", b"\xfe\xff")))
        if encoded:
            queue.extend(decode.container_views(data, path, (), decode.RAW, budget))
        elif not binary and not (name and heuristic.is_non_text_file(name)):
            queue.append(decode.View(data, path))
        while queue:
            view = queue.popleft()
            found = self.candidates(view.data)
            for rule_id, line, value, start, end, enc in self._matches(view.data, view.path, found,
                                                                        any_path=any_path):
                literal = _literal(view, view.data[start:end])
                yield Found(rule_id, view.line or line, value, literal, (*view.encoding, *enc))
            if not self.sites:
                continue
            base = len(self.rules)
            hits = {site: found[base + k] for k, site in enumerate(self.sites) if base + k in found}
            if not hits and decode.whole_base64(view.data) is None:
                continue
            for child in decode.base64_children(view, hits, budget):
                if isinstance(child, decode.View):
                    queue.append(child)
                else:
                    yield Found(child.rule, child.line, child.value, _literal(view, child.anchor), child.encoding)

    def scan_blob(self, data: bytes, path: str) -> list[Hit]:
        """Path and content findings for one blob at ``path`` (one per distinct value)."""
        hits: list[Hit] = []
        seen: set[str] = set()
        for f in _distinct(self._found(data, path)):
            hit = _hit(f.rule, "content", f.line, f.value, f.encoding)
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
        for f in _distinct(self._found(message, "", blob=False)):
            hit = _hit(f.rule, "content", f.line, f.value, f.encoding)
            if hit.secret_sha256 not in seen:
                seen.add(hit.secret_sha256)
                hits.append(hit)
        return hits

    def recover(self, data: bytes, path: str | None, *, any_path: bool = False,
                blob: bool = True) -> dict[str, decode.Recovered]:
        """secret_sha256 → the value and every literal form it sits in in ``data`` (used by the plan).

        ``path`` must be where the blob was scanned, or path-restricted rules stay silent;
        ``any_path`` lifts those restrictions (a blob scanned under another of its names).
        A value visible only after decompression or transcoding has no literal.
        """
        values: dict[str, str] = {}
        literals: dict[str, dict[bytes, None]] = {}
        encodings: dict[str, tuple[str, ...]] = {}
        for f in self._found(data, path or "", any_path=any_path, blob=blob):
            sha = sha256_hex(f.value)
            values.setdefault(sha, f.value)
            encodings.setdefault(sha, f.encoding)
            forms = literals.setdefault(sha, {})
            if f.literal is not None:
                forms.setdefault(f.literal, None)
        return {sha: decode.Recovered(v, tuple(Secret(b.decode("utf-8", "surrogateescape")) for b in literals[sha]),
                                      encodings[sha])
                for sha, v in values.items()}

    def values(self, data: bytes, path: str | None, *, any_path: bool = False) -> dict[str, Secret]:
        """secret_sha256 → the value, for every content secret in ``data``."""
        return dict(self.recover(data, path, any_path=any_path))


def _distinct(found: Iterator[Found]) -> list[Found]:
    """Matches without the plain ones that are only the encoded form of a decoded value.

    ``password: <base64>`` in a Kubernetes Secret is one secret, the decoded one;
    its base64 literal is what the plan replaces.
    """
    items = list(found)
    encoded = {f.literal for f in items if f.encoding and f.literal is not None}
    if not encoded:
        return items
    return [f for f in items if f.encoding or f.value.encode("utf-8", "surrogateescape") not in encoded]


def _literal(view: decode.View, span: bytes | decode.Anchor) -> bytes | None:
    # The blob's own bytes, the encoded literal the value was decoded from, or nothing (decompressed).
    if view.anchor is decode.RAW:
        return span if isinstance(span, bytes) else None
    return view.anchor if isinstance(view.anchor, bytes) else None


def _whole_blob(rule: Rule) -> bool:
    return isinstance(rule, ContentRule) and rule.multiline


def _content_matches(rule: ContentRule, data: bytes, lo: int, hi: int) -> Iterator[tuple[str, str, int, int]]:
    for m in rule.compiled.finditer(data, lo, hi):
        raw = m.group(rule.secret_group)
        if not raw:
            continue
        value = raw.decode("utf-8", "surrogateescape")
        if not rule.accepts(m, value):
            continue
        start = m.start(rule.secret_group)
        if ALLOWLIST_PRAGMA.encode() in _line_at(data, start):
            continue
        yield rule.rule_id(m), value, start, m.end(rule.secret_group)


def _plugin_matches(rule: PluginRule, data: bytes, lo: int, hi: int, path: str) -> Iterator[tuple[str, str, int, int]]:
    # detect-secrets plugins are line-based: give them each candidate line, as detect-secrets does.
    line = data[lo:hi].decode("utf-8", "surrogateescape")
    for regex in rule.plugin.denylist:
        for m in regex.finditer(line):
            group = next((g for g in range(1, (m.lastindex or 0) + 1) if m.group(g)), 0)
            value = m.group(group)
            if rule.extend is not None:
                tail = rule.extend.match(line, m.end(group))
                value += tail.group(0) if tail else ""
            # The plugin's own validation (a JWT's header and payload decode to JSON) runs in its
            # analyze_string, which we bypass to keep the positions: apply it here.
            valid = getattr(rule.plugin, "is_formally_valid", None)
            if valid is not None and not valid(value):
                continue
            if line[m.start():m.start(group)].endswith(f"/{value}:"):
                continue  # scheme://postgres:postgres@: a stock development login (user == password)
            if _plugin_accepts(value, line, path):
                start = lo + len(line[:m.start(group)].encode("utf-8", "surrogateescape"))
                yield rule.id, value, start, start + len(value.encode("utf-8", "surrogateescape"))


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
