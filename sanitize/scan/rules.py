"""The scan's rules as data: path rules, content rules, and the value filters they share.

A rule is a few declarative lines (an id, prefilter keywords, a pattern, the
group that holds the secret); the engine (:mod:`sanitize.scan.detectors`) does
the looping. Rule ids are stable strings; an id may name a captured group in
braces (``default.{name}``), so ``process.env.JWT_SECRET || "…"`` is reported
as ``default.jwt-secret``. Custom rules come from a YAML or TOML file
(``--rules``) and are added to the built-in table.

The table, most specific first: private key blocks; provider token formats
(``token.*``, generated from :mod:`sanitize.scan.providers`); credential files by
name and shape (``file.*``: .npmrc, Docker config, .netrc, .pgpass, htpasswd and
shadow hashes, wp-config.php, SQL ``IDENTIFIED BY``); passwords in connection
strings and command lines; DSNs; env fallbacks in each language (``default.*``,
which the plan lists as fix-in-code at a branch tip); generic keyword assignments.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import tomllib
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from detect_secrets.filters import heuristic

from sanitize.errors import UsageError
from sanitize.inputs import read_text
from sanitize.scan.providers import TOKEN_FORMATS, TokenFormat, is_placeholder_token, is_published_example

# --- shared value filters -----------------------------------------------------------------

#: Values documentation and templates use in place of a real secret.
PLACEHOLDERS = frozenset({
    "changeme", "change_me", "change-me", "changeit", "password", "passwd", "pass", "pwd", "secret", "secrets",
    "token", "apikey", "api_key", "example", "sample", "placeholder", "redacted", "dummy", "default", "null",
    "none", "nil", "undefined", "true", "false", "test", "testing", "admin", "root", "user", "username", "foo",
    "bar", "foobar", "xxx", "todo", "fixme", "hunter2", "letmein", "mysecret", "mypassword", "secretkey",
    "your_password", "yourpassword", "s3cr3t", "p@ssw0rd", "password123", "bearer",
    "tiger", "guest",  # scott:tiger and guest:guest, the stock credentials of database and broker docs
    "open sesame",  # RFC 7617's Basic example (Aladdin:open sesame), copied into every HTTP library's tests
})
_PLACEHOLDER_PARTS = ("example", "your-", "your_", "_here", "unique phrase",
                      "yourpass", "yoursecret", "yourtoken", "replace_me", "replace-me",
                      "insert_", "insert-", "dummy", "placeholder", "redacted", "xxxxx", "*****",
                      "***removed***",  # git-filter-repo's (and our plan's) replacement marker
                      "do_not_use", "do-not-use", "donotuse", "not_a_real", "not-a-real", "notreal", "fake_", "_fake",
                      "fake-", "-fake")
_TEMPLATE = re.compile(r"^(?:<[^>]*>?|\$\{?\w*\}?|\{\{.*|\{%.*|%\(.*|%[sd]|#\{.*|\[\[.*|\.\.\.+|__\w+__)$|\$\{|\{\{")


def is_placeholder(value: str) -> bool:
    """True for a documented example, a template reference or a stand-in, never a real secret.

    Combines detect-secrets' heuristic filters with the placeholder shapes our
    decoys use (``<your-password>``, ``${VAR}``, ``{{ var }}``, ``…EXAMPLE``), a provider's
    published documentation key (:data:`sanitize.scan.providers.PUBLISHED_EXAMPLES`), the
    optional-part notation of usage texts (``redis://[:password]@``) and a stand-in
    spelled with escapes or accents (``p%C3%A4ssword``, ``p\\xe4ssword``).
    """
    v = value.strip().strip("\"'`")
    low = v.lower()
    if len(v) < 4 or low in PLACEHOLDERS or is_published_example(v):
        return True
    plain = _plain(v)
    if plain.strip("[](){}<>:;,.!?*_- ") in PLACEHOLDERS or (plain.startswith("[") and plain.endswith("]")):
        return True
    if any(part in low for part in _PLACEHOLDER_PARTS) or _TEMPLATE.search(v):
        return True
    if len(set(low)) <= 2:  # "xxxxxxxx", "********", "aaaa"
        return True
    return bool(
        heuristic.is_templated_secret(v)
        or heuristic.is_prefixed_with_dollar_sign(v)
        or heuristic.is_sequential_string(v)
        or heuristic.is_potential_uuid(v)
        or heuristic.is_not_alphanumeric_string(v)
    )


# Words people type in place of a secret; a value made only of these and digits is guessable, not secret.
_STAND_IN_WORDS = frozenset({
    "test", "tests", "testing", "dev", "devel", "development", "demo", "example", "sample", "fake", "dummy", "mock",
    "secret", "secrets", "key", "keys", "password", "passwd", "pass", "pwd", "token", "my", "your", "super", "very",
    "not", "default", "local", "localhost", "change", "changeme", "me", "admin", "root", "user", "app", "foo", "bar",
    "baz", "hello", "world", "abc", "qwerty", "top", "private", "insecure", "unsafe", "do", "use", "this", "is", "a",
    "the", "prod", "staging", "debug", "temp", "tmp", "sekret", "pw", "db", "api", "auth",
})


def is_word_salad(value: str) -> bool:
    """``testkey``, ``super-secret-key``, ``admin123``: only stand-in words and digits, so guessable.

    Such a value is a weak default worth fixing in code, but not a secret worth rewriting
    every file of history for; the plan holds it back for review instead.
    """
    parts = re.findall(r"[A-Za-z]+|\d+|[^A-Za-z\d]+", value.strip())
    if not parts:
        return False
    for part in parts:
        if part.isdigit() or not part.isalnum():
            if part.isdigit() or len(part) <= 2:
                continue
            return False
        low = part.lower()
        reach = [True] + [False] * len(low)  # reach[i]: low[:i] splits into stand-in words
        for i in range(1, len(low) + 1):
            reach[i] = any(reach[j] and low[j:i] in _STAND_IN_WORDS for j in range(max(0, i - 12), i))
        if not reach[-1]:
            return False
    return any(not p.isdigit() and p.isalnum() for p in parts)


def _plain(value: str) -> str:
    """``p%C3%A4ssword`` / ``p\\xe4ssword`` / ``pässword`` → ``password``: how a stand-in reads to a person."""
    text = urllib.parse.unquote(value) if "%" in value else value
    if "\\" in text:
        try:
            text = codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
        except (UnicodeError, ValueError):
            pass
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


# A dotted path into code or config (settings.SECRET_KEY, process.env.TOKEN, self.config.password).
_DOTTED_REF = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:\(\))?$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_WIN_ENV = re.compile(r"^%[A-Za-z_]\w*%$")


def is_reference(value: str) -> bool:
    """A value that names where the secret is instead of being it: a dotted attribute path,
    an environment variable's name (``DB_PASSWORD``), a ``%VAR%`` expansion."""
    v = value.strip()
    if _WIN_ENV.match(v) or (_ENV_NAME.match(v) and is_secretish_name(v)):
        return True
    # A dotted path of identifiers written by a person (not a domain, not a random dotted token).
    return (bool(_DOTTED_REF.match(v)) and not looks_generated(v)
            and not re.search(r"\.(?:com|org|net|io|dev|local|internal)$", v, re.I))


_CREDENTIAL_WORD = re.compile(r"(?i)\b(?:password|passwort|passphrase|passwd|secret|token|pin|api key|login)\b")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z '’.,:!?()/-]*$")


def is_label(value: str) -> bool:
    """Text shown to a person about a credential (``Enter your password``, ``Password:``), not one."""
    v = value.strip()
    return bool(_LABEL.match(v) and _CREDENTIAL_WORD.search(v) and (" " in v or v.endswith(":")))


def is_stand_in(value: str) -> bool:
    """True for what a credential file holds in place of a value: a variable, a template, a mask, nothing.

    Used for fields of credential stores (``.netrc``, ``.pgpass``, ``.npmrc``), where
    any literal, even a dictionary word, is the password someone uses.
    """
    v = value.strip().strip("\"'`")
    low = v.lower()
    if "unique phrase" in low:  # WordPress's stand-in for its keys and salts
        return True
    if not v or len(set(v)) <= 2 or low in ("null", "none", "nil", "undefined", "true", "false"):
        return True
    return bool(_TEMPLATE.search(v)) or v.startswith(("$", "%")) or any(
        part in low for part in ("example", "your-", "your_", "<", "***removed***", "_here", "redacted"))


_SECRETISH = re.compile(r"(?i)secret|passw|passphrase|pwd|(?:^|_)pass(?:_|$)|token|api_?key|private_?key|"
                        r"access_?key|credential|auth_?key|app_key|master_?key|encryption_?key|"
                        r"signing_?key|encryption_?key|dsn|database_url|db_url|session_?key|client_?secret")


# Names that mention a credential but hold something else: a switch, a file, a length, a helper.
_NOT_A_VALUE = re.compile(r"(?i)^no_|etc_?passwd|_(?:file|path|dir|len|length|min|max|type|name|header|field|param|"
                          r"helper|timeout|ttl|expiry|expires|enabled|required|policy|method|algorithm|alg|version|"
                          r"prefix|mode|store|backend|provider|location|endpoint|rotation|count|size|id|"
                          r"label|placeholder|hint|prompt|text|title|message|msg|caption|help|description|error|"
                          r"pattern|regex|format|chars)s?$")


def is_secretish_name(name: str) -> bool:
    """True for a variable name that conventionally holds a credential (JWT_SECRET, not PORT or TOKEN_TTL).

    camelCase is read as snake_case (``tokenType`` is a ``token_type``), and a name that
    starts with TOKEN followed by other words (``TOKEN_BLOCK_BEGIN``) names a kind of
    token in a lexer, not a credential (unless a credential word follows: ``TOKEN_SECRET``).
    """
    return bool(_SECRETISH.search(name)) and not _NOT_A_VALUE.search(_snake(name))


# TOKEN_BLOCK_BEGIN, TOKEN_NAME: lexer token kinds. A bare ``token`` holds one as often as a credential.
_TOKEN_KIND = re.compile(r"^_*tok(?:en)?s?_(?!.*(?:secret|key|passw|pwd|auth|access|bearer|value|credential))[a-z]")
_BARE_TOKEN = re.compile(r"^_*(?:(?:next|cur|current|last|prev|previous|this|the|a|new|start|end)_)?tok(?:en)?s?$")


def names_a_token_kind(name: str, value: str) -> bool:
    """``TOKEN_NAME = 'name'``, ``token = 'block_begin'``: a lexer's token kind, not a credential.

    Only when the value is a word or phrase; a machine-made value under such a name is still reported.
    """
    snake = _snake(name)
    return bool(_TOKEN_KIND.match(snake) or _BARE_TOKEN.match(snake)) and not looks_generated(value)


def _snake(name: str) -> str:
    """``tokenType`` → ``token_type``; ``APIToken`` → ``api_token``; ``JWT_SECRET`` → ``jwt_secret``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return spaced.lower()


def slug(name: str) -> str:
    """``JWT_SECRET`` → ``jwt-secret``: the variable part of a templated rule id."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "value"


# --- content rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentRule:
    """A pattern over blob or message bytes whose ``secret`` group is the leaked value.

    ``keywords`` feed the one-pass prefilter: the pattern only runs on text that
    holds one of them (``caseless`` says how they compare). ``hs_patterns`` are
    extra prefilter regexes for formats without a fixed literal. ``name_check``
    rejects matches whose ``name`` group is not a credential-like variable;
    ``placeholder_check`` rejects documented stand-ins; ``min_len`` bounds the value.
    """

    id: str
    regex: str
    keywords: tuple[str, ...] = ()
    caseless: bool = True
    hs_patterns: tuple[str, ...] = ()
    secret_group: str | int = "secret"
    name_check: bool = False
    placeholder_check: bool = True
    token_check: bool = False  # a provider format: judge stand-ins by its random runs (UUIDs may be real)
    file_value: bool = False  # a credential store's field (.netrc, .pgpass): every literal counts but references
    check: Callable[[str], bool] | None = None  # an extra test of the value's shape (e.g. base64 of user:pass)
    word_check: bool = False  # generic field names: a plain word ("address") is not a secret
    min_len: int = 6
    multiline: bool = False  # the pattern spans lines: run it over the whole blob, not keyword lines
    reject: str = ""  # a value matching this is not this rule's (e.g. a URL: the DSN rule owns it)
    paths: str = ""  # only for files whose path matches (e.g. config formats); never for messages
    description: str = ""
    compiled_paths: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    @cached_property
    def compiled(self) -> re.Pattern[bytes]:
        """The pattern, compiled on first use: most provider formats never pass the prefilter of a repository."""
        return re.compile(self.regex.encode("utf-8"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled_paths", re.compile(self.paths) if self.paths else None)
        if self.token_check:
            return  # generated from a provider template; every template is compiled and tested by the test suite
        try:
            self.compiled  # noqa: B018 - compile now: a custom rule's bad regex is a usage error, not a crash later
        except re.error as exc:
            raise UsageError(f"rule {self.id}: invalid regex ({exc})") from exc
        group = self.secret_group
        if isinstance(group, str) and group not in self.compiled.groupindex:
            raise UsageError(f"rule {self.id}: regex has no group named {group!r}")
        if isinstance(group, int) and not 0 <= group <= self.compiled.groups:
            raise UsageError(f"rule {self.id}: regex has no group {group}")

    def applies_to(self, path: str) -> bool:
        """Whether the rule runs on a blob at ``path`` ("" for a message)."""
        return self.compiled_paths is None or bool(path and self.compiled_paths.search(path))

    def rule_id(self, match: re.Match[bytes]) -> str:
        """The reported id; ``{name}`` in the id is filled from the match."""
        if "{" not in self.id:
            return self.id
        groups = {k: slug(v.decode("utf-8", "replace")) for k, v in match.groupdict(b"").items()}
        try:
            return self.id.format(**groups)
        except (KeyError, IndexError, ValueError):
            return self.id

    def accepts(self, match: re.Match[bytes], value: str) -> bool:
        """Whether a match is a secret (not a placeholder, not a non-credential variable)."""
        if len(value) < self.min_len or (self.reject and re.search(self.reject, value)):
            return False
        user = match.groupdict().get("user")
        if user is not None and user.decode("utf-8", "replace") == value:
            return False  # postgres://postgres:postgres@…: a stock development login, not a secret
        if self.name_check:
            raw_name = match.groupdict().get("name")
            name = raw_name.decode("utf-8", "replace") if raw_name is not None else ""
            if not name or not is_secretish_name(name) or names_a_token_kind(name, value):
                return False
            if _snake(value) == _snake(name) or _in_tuple_target(match):
                return False  # app.secret_key = "secret_key"; user, password = "alice", "…"
        if self.word_check and not looks_random(value):
            return False
        if (self.name_check or self.word_check) and (is_reference(value) or is_label(value)):
            return False  # a generic name = value: the value names a variable, or is text for a person
        if self.check is not None and not self.check(value):
            return False
        if self.token_check:
            return not is_placeholder_token(match, value)
        if self.file_value:
            return not is_stand_in(value)
        return not (self.placeholder_check and is_placeholder(value))


def _in_tuple_target(match: re.Match[bytes]) -> bool:
    """The name is one of several assigned at once (``username,password = "alice","…"``): the value
    matched is the first one's, so it is not this name's."""
    start = match.start("name")
    line_start = match.string.rfind(b"\n", 0, start) + 1
    return bool(_TUPLE_HEAD.match(match.string[line_start:start]))


_TUPLE_HEAD = re.compile(rb"^[ \t]*(?:[A-Za-z_][\w.]*[ \t]*,[ \t]*)+$")

# One word as people write them: lower, Capitalized, UPPER or camelCase humps, maybe a short number after.
_WORD = re.compile(r"^(?:(?:[a-z]+|[A-Z][a-z]*|[A-Z]+|[A-Z]?[a-z]+(?:[A-Z][a-z]+)+)\d{0,4}|\d{1,4})$")
_SEPARATORS = re.compile(r"[ _.:/+\-]+")


def is_wordy(value: str) -> bool:
    """Words with separators (``my-dev-key``, ``tokenType``, ``begin of statement block``), not random
    letters: a random mixed-case string always has a hump no person writes (``fFjkBYcf``)."""
    parts = [p for p in _SEPARATORS.split(value.strip().rstrip("!.?")) if p]
    return bool(parts) and all(_WORD.match(p) for p in parts)


def looks_generated(value: str) -> bool:
    """A value a machine made (a random hex or base64 key), not a word or phrase a person typed.

    At least 16 characters, not words with separators (``my-dev-key``, ``test key 1``),
    and a Shannon entropy of at least 3 bits per character (a 32-hex-digit key has about 3.7).
    """
    v = value.strip()
    if len(v) < 16 or is_wordy(v):
        return False
    counts = Counter(v)
    entropy = -sum(n / len(v) * math.log2(n / len(v)) for n in counts.values())
    return entropy >= 3.0


def looks_random(value: str) -> bool:
    """Two or more character classes (lower, upper, digit, symbol), or long: a password, not a word.

    Generic ``token = "…"`` fields hold words as often as secrets; replacing a word
    such as ``header`` in every file of history would damage the code, so only
    values that look generated or chosen as passwords are reported by those rules.
    """
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value), any(not c.isalnum() for c in value)))
    return classes >= 2 or len(value) >= 16


_Q = "[\"'`]"
# Prefilter shapes (hyperscan) for rules whose keywords are common words in code: the keyword, then
# the assignment or call around it, so the rule's regex runs on a few lines instead of every line that
# says "token" or "environ.get". Each must match wherever the rule's regex does, in the raw text and
# in its JSON-escaped form (the rules read a line with escapes unescaped): a quote may be \" or
# \u0022, a space \n or \t. tests/test_scan_rules.py checks both forms for every such rule.
_HS_Q = r"(?:\\*[\"'`]|\\u002[27])"
_HS_WS = r"(?:\s|\\[nrtfb]|\\u00(?:0[9a-d]|20))*"
_HS_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_HS_KW = r"(?:passw(?:or)?d|secret|token|api_?key)"
_CONFIG_PATHS = r"(?i)\.(?:ya?ml|ini|cfg|conf|cnf|properties|toml|tfvars|env)$|(?:^|/)\.env(?:\.[\w.-]+)?$"
_SECRET_NAMES = ("SECRET", "PASSWORD", "PASSWD", "_PASS(?![A-Z])", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY",
                 "ACCESS_KEY", "APP_KEY", "MASTER_KEY", "ENCRYPTION_KEY",
                 "CREDENTIAL", "AUTH_KEY", "SIGNING_KEY", "CLIENT_SECRET", "DSN", "DATABASE_URL")
_SECRET_KEYWORDS = tuple(re.sub(r"\(\?.*\)", "", n) for n in _SECRET_NAMES)  # the literal part, for the prefilter
_UPPER_NAME = r"(?P<name>[A-Z0-9_]*(?:" + "|".join(_SECRET_NAMES) + r")[A-Z0-9_]*)"
_HS_UPPER_NAME = "(?:" + "|".join(re.escape(k) for k in _SECRET_KEYWORDS) + ")[A-Z0-9_]*"

def token_rule(fmt: TokenFormat) -> ContentRule:
    """A provider format (:mod:`sanitize.scan.providers`) as a content rule."""
    keywords, hs_patterns, caseless = fmt.prefilter()
    return ContentRule(id=fmt.rule_id, regex=fmt.regex(), keywords=keywords, hs_patterns=hs_patterns, caseless=caseless,
                       min_len=fmt.min_len, token_check=True, description=fmt.description)


#: One content rule per provider token format, in the table's order.
TOKEN_RULES: tuple[ContentRule, ...] = tuple(token_rule(fmt) for fmt in TOKEN_FORMATS)

_UPPER_NAME_EARLY = r"(?P<name>[A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD|_PASS(?![A-Z])|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|" \
                    r"ACCESS_KEY|AUTH_KEY|CLIENT_SECRET)[A-Z0-9_]*)"

# Credential stores, by file name and line shape. Their fields hold the password itself,
# so any literal counts (file_value): "pass123" in a .netrc is someone's password. A rule
# restricted to a few file names has no prefilter keywords: it runs on whole blobs at those
# paths only (a keyword such as "pass" would wake it on every Python `pass`).
_NPMRC = r"(?:^|/)\.npmrc$"
_HASHES = (r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}|\$(?:1|apr1)\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}|"
           r"\$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}|"
           r"\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{1,86}\$[./A-Za-z0-9]{43}|"
           r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}|"
           r"\{SSHA\}[A-Za-z0-9+/]{20,}={0,2}|\{SHA\}[A-Za-z0-9+/]{27}=")
_HASH_FILES = (r"(?i)(?:^|/)(?:shadow|gshadow|[^/]*passwd[^/]*|\.htpasswd|htpasswd[^/]*|[^/]*\.sql(?:\.\w+)?|"
               r"[^/]*\.ldif|[^/]*dump[^/]*)$")
_XML_PATHS = r"(?i)\.(?:xml|config|plist|xaml|jnlp)$"

CREDENTIAL_FILE_RULES: tuple[ContentRule, ...] = (
    ContentRule(
        id="file.npmrc-auth-token",
        regex=r"(?i)(?<![\w-])(?://[^\s:\"']*:)?_authToken[ \t]*=[ \t]*[\"']?(?P<secret>[A-Za-z0-9._~+/=-]{8,})"
              r"(?=[\s\"'#;]|$)",
        keywords=("_authtoken",), file_value=True, min_len=8,
        description="An npm registry token in .npmrc syntax (npm_…, or the legacy UUID form).",
    ),
    ContentRule(
        id="file.npmrc-{kw}",
        regex=r"(?im)^[ \t]*(?://[^\s:]*:)?_(?P<kw>auth|password)[ \t]*=[ \t]*[\"']?(?P<secret>[^\s\"'#;]+)",
        file_value=True, min_len=4, paths=_NPMRC,
        description="An .npmrc _auth (base64 user:password) or _password (base64 password).",
    ),
    ContentRule(
        id="file.yarnrc-auth-token",
        regex=r"\bnpmAuth(?:Token|Ident)[\"']?[ \t]*:[ \t]*[\"']?(?P<secret>[^\s\"'#]+)",
        keywords=("npmAuthToken", "npmAuthIdent"), caseless=False, file_value=True, min_len=8,
        description="A Yarn Berry (.yarnrc.yml) npmAuthToken / npmAuthIdent.",
    ),
    # Docker's "auth" (base64 user:password) is a decoding site (scan/decode.py): reported as the password.
    ContentRule(
        id="file.netrc-password",
        regex=r"(?:^|\s)password[ \t]+(?P<secret>[^\s]+)",
        file_value=True, min_len=3, paths=r"(?i)(?:^|/)[._]netrc$",
        description="The password of a .netrc / _netrc machine entry.",
    ),
    ContentRule(
        id="file.netrc-password",
        regex=r"\bmachine[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+password[ \t]+(?P<secret>[^\s\"'`;)]+)",
        hs_patterns=(r"machine(?:[ \t]|\\t)+\S+(?:[ \t]|\\t)+login(?:[ \t]|\\t)",), word_check=True, reject=r"^[\\#]",
        min_len=6,
        description="A .netrc machine line written anywhere (machine H login U password P).",
    ),
    ContentRule(
        id="file.pgpass-password",
        regex=r"(?m)^(?![ \t]*#)(?:(?:[^:\\\r\n]|\\.)*:){4}(?P<secret>(?:[^:\\\r\n]|\\.)+?)[ \t]*\r?$",
        file_value=True, min_len=3,
        paths=r"(?i)(?:^|/)(?:\.pgpass|pgpass\.conf)$",
        description="The password (fifth field) of a PostgreSQL .pgpass line.",
    ),
    ContentRule(
        id="file.git-credentials",
        regex=r"(?m)^[ \t]*https?://(?P<user>[^:/\s]+):(?P<secret>\S+)@(?P<host>[^@\s/]+)/?[ \t]*\r?$",
        file_value=True, min_len=3, paths=r"(?:^|/)\.?git-credentials$",
        description="A password or token in git's credential store (.git-credentials).",
    ),
    ContentRule(
        id="file.password-hash",
        regex=r"(?<![A-Za-z0-9./$])(?P<secret>" + _HASHES + r")",
        placeholder_check=False, min_len=20, paths=_HASH_FILES,
        description="A password hash (crypt, bcrypt, argon2, {SSHA}) in shadow, htpasswd or SQL dump files.",
    ),
    ContentRule(
        id="file.htpasswd-des",
        regex=r"(?m)^[^:\s#]+:(?P<secret>[./A-Za-z0-9]{13})[ \t]*\r?$",
        placeholder_check=False, min_len=13,
        paths=r"(?i)(?:^|/)\.?htpasswd[^/]*$",
        description="A DES-crypt password hash in an .htpasswd file.",
    ),
    ContentRule(
        id="file.wp-config-{name}",
        regex=r"\bdefine\(\s*(?P<q1>[\"'])(?P<name>DB_PASSWORD|(?:SECURE_)?AUTH_(?:KEY|SALT)|LOGGED_IN_(?:KEY|SALT)|"
              r"NONCE_(?:KEY|SALT))(?P=q1)\s*,\s*(?P<q>[\"'])(?P<secret>(?:\\.|(?!(?P=q)).){3,200})(?P=q)",
        keywords=("define(",), caseless=False, placeholder_check=False, check=lambda v: not is_placeholder(v)
        or len(v) >= 32, min_len=3,
        description="A WordPress wp-config.php database password or authentication key/salt.",
    ),
    ContentRule(
        id="sql.password",
        regex=r"(?i)\b(?:(?:CREATE|ALTER|GRANT)\b[^;\r\n]{0,300}?\bIDENTIFIED\s+(?:WITH\s+\w+\s+)?BY(?:\s+PASSWORD)?|"
              r"(?:CREATE|ALTER)\s+(?:USER|ROLE)\s+[^;\r\n]{0,200}?\bPASSWORD|"
              r"SET\s+PASSWORD\s+(?:FOR\s+\S+\s+)?=\s*(?:PASSWORD\s*\()?)\s*(?P<q>['\"])"
              r"(?P<secret>(?:''|\\.|(?!(?P=q)).){3,200})(?P=q)",
        hs_patterns=(rf"(?i)(?:identified{_HS_WS}(?:with{_HS_WS}\w+{_HS_WS})?by|password){_HS_WS}(?:{_HS_Q}|=|for\b|\()",),
        file_value=True, min_len=3,
        description="A password in SQL: IDENTIFIED BY '…', CREATE/ALTER USER … PASSWORD '…', SET PASSWORD.",
    ),
    ContentRule(
        id="file.firefox-login",
        regex=r"\"encrypted(?:Username|Password)\"\s*:\s*\"(?P<secret>[A-Za-z0-9+/]{20,}={0,2})\"",
        keywords=('"encrypted',), caseless=False, placeholder_check=False, min_len=20,
        description="A Firefox saved login (logins.json encryptedUsername/encryptedPassword; key4.db decrypts it).",
    ),
    ContentRule(
        id="file.xml-{kw}",
        regex=r"<(?P<tag>[\w:.-]*?(?P<kw>[Pp]ass(?:word|wd)?|PASS(?:WORD|WD)?|[Ss]ecret|SECRET|[Pp]assphrase))"
              r"(?:\s[^>]*)?>(?P<secret>[^<\s]{3,200})</(?P=tag)>",
        file_value=True, min_len=3, paths=_XML_PATHS,
        description="A password element in an XML config (FileZilla <Pass>, Maven <password>, …).",
    ),
    ContentRule(
        id="file.credential-field",
        regex=r"(?im)^[ \t]*(?P<name>[\w.-]*?(?:pass(?:word|wd)?|secret(?:_access)?_key|secret|api_?key|token))[ \t]*"
              r"[:=][ \t]*(?P<q>[\"']?)(?P<secret>[^\s\"'#]{3,200})(?P=q)[ \t]*(?:#.*)?\r?$",
        file_value=True, min_len=3,
        paths=r"(?i)(?:^|/)(?:\.s3cfg|\.tugboat|\.pypirc|\.?credentials|\.boto|\.my\.cnf|\.esmtprc|\.msmtprc)$",
        description="A password, secret key or token in a credential file (.s3cfg, .pypirc, AWS credentials, …).",
    ),
    ContentRule(
        id="file.kubeconfig-client-key",
        regex=r"\bclient-key-data:[ \t]*[\"']?(?P<secret>[A-Za-z0-9+/]{40,}={0,2})",
        keywords=("client-key-data",), caseless=False, placeholder_check=False, min_len=40,
        description="A kubeconfig user's private key (client-key-data: base64 of a PEM key).",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?m)^[ \t]*(?:ENV|ARG)[ \t]+" + _UPPER_NAME_EARLY
              + r"[ \t]+(?P<q>[\"']?)(?P<secret>[^\s\"'$]{4,200})(?P=q)[ \t]*\r?$",
        name_check=True, reject="://", paths=r"(?i)(?:^|/)(?:Dockerfile|Containerfile)[^/]*$|\.dockerfile$",
        description="A credential baked into an image: ENV DB_PASSWORD literal (Dockerfile, space form).",
    ),
    ContentRule(
        id="file.rc-password",
        regex=r"(?im)^[ \t]*(?:set[ \t]+)?(?P<name>[\w-]*pass(?:word|wd)?)[ \t]+(?P<q>[\"']?)"
              r"(?P<secret>[^\s\"']{3,200})(?P=q)[ \t]*\r?$",
        file_value=True, min_len=3,
        paths=r"(?i)(?:^|/)\.(?:esmtprc|msmtprc|fetchmailrc|muttrc|netrc|ftpconfig|lftprc|mailrc|s3cfg|tugboat)$",
        description="A password in a mail/FTP client rc file (password \"…\").",
    ),
)

#: Runs after the generic keyword rules: it reports only the passwords they leave out as words.
CONFIG_PASSWORD_RULE = ContentRule(
    id="file.config-password",
    regex=r"(?i)(?<![\w.-])[\"']?(?P<name>[\w.-]*?(?:pass(?:word|wd|phrase)?|pwd))[\"']?[ \t]*(?:=|:)[ \t]*"
          r"(?P<q>[\"'])(?P<secret>[^\"'\s]{4,200})(?P=q)",
    keywords=("password", "passwd", "passphrase", "pwd", "pass\"", "pass'", "pass:", "pass="),
    name_check=True, reject=r"://|\\", min_len=4,
    paths=r"(?i)\.(?:xml|json|ya?ml|ini|cfg|conf|cnf|properties|toml|plist|tf|tfstate|hcl)$|"
          r"(?:^|/)\.[\w-]*(?:rc|config)$|"
          r"(?:^|/)\.?(?:s3cfg|tugboat|pypirc|credentials|boto)$",
    description="A quoted password in a config or credential file (dictionary words count: they are passwords).",
)

LOGIN_CALL_RULE = ContentRule(
    id="code.login-password",
    regex=r"(?i)(?<![\w.])(?:[\w$]+\.)?(?:log_?in|sign_?in|authenticate)\(\s*(?P<q1>[\"'])[^\"'\s]{1,100}(?P=q1)\s*,\s*"
          + r"(?P<q>[\"'])(?P<secret>[^\"'\s]{6,200})(?P=q)",
    keywords=("login(", "log_in(", "signin(", "sign_in(", "authenticate("), word_check=True, reject="://",
    description="A literal password passed to a login call: conn.login('user', '…').",
)

# Passwords inside connection strings and command lines (scripts, CI files, shell history, READMEs).
_Q_ARG = r"(?P<q>[\"']?)(?P<secret>[^\s\"'`;|&)]{3,128})(?P=q)(?![^\s\"'`;|&)])"

INLINE_PASSWORD_RULES: tuple[ContentRule, ...] = (
    ContentRule(
        id="connstr.password",
        regex=r"(?i)(?:Server|Data Source|Host|Address|Addr|Initial Catalog|Database|User ID|UID|User Name)"
              r"[ \t]*=[^;\"'\r\n]*;(?:[^;\"'\r\n]*;){0,8}?[ \t]*(?:Password|Pwd)[ \t]*=[ \t]*"
              r"(?P<secret>[^;\"'\r\n]{3,128}?)[ \t]*(?=;|[\"']|$)",
        keywords=("password=", "pwd=", "password =", "pwd ="), reject=r"^\{|\}$",
        description="The password of an ADO.NET/ODBC connection string: Server=…;User ID=…;Password=…;",
    ),
    ContentRule(
        id="url.password-param",
        regex=r"(?i)[?&;](?:password|passwd|pwd|pass)=(?P<secret>[^&;\s\"'#<>\[\]()]{3,128})",
        keywords=("password=", "passwd=", "pwd=", "pass="), reject=r"^\{|\}$|^%s$",
        description="A password in a URL query or JDBC parameter list: jdbc:mysql://h/db?user=u&password=….",
    ),
    ContentRule(
        id="cli.password",
        regex=r"(?:\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\r\n|;&]*?[ \t](?:-p|--password=)|"
              r"\bsshpass[ \t]+-p[ \t]*|\bredis-cli\b[^\r\n|;&]*?[ \t](?:-a|--pass)[ \t]+|"
              r"\bdocker[ \t]+login\b[^\r\n|;&]*?[ \t](?:-p|--password)[ \t=]+)" + _Q_ARG,
        keywords=("mysql", "mariadb", "sshpass", "redis-cli", "docker login"),
        description="A password on a command line: mysql -p…, sshpass -p …, redis-cli -a …, docker login -p ….",
    ),
    ContentRule(
        id="cli.curl-user",
        regex=r"\bcurl\b[^\r\n|;&]*?[ \t](?:-u|--user)[ \t=]*(?P<q>[\"']?)[^:\s\"']{1,64}:"
              r"(?P<secret>[^\s\"'`@]{3,128})(?P=q)(?=[\s\"'`]|$)",
        keywords=("curl",),
        description="The password of curl -u user:password.",
    ),
)

# Hardcoded fallbacks for environment variables, in more languages than JS and Python.
_ENV_VAR = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
_LIT = r"(?P<q>[\"'])(?P<secret>(?:\\.|(?!(?P=q))[^\r\n]){4,200})(?P=q)"

ENV_DEFAULT_RULES: tuple[ContentRule, ...] = (
    ContentRule(
        id="default.{name}",
        regex=r"(?<![\w.])(?:[A-Za-z_][\w.]*\.)?(?:[gG]et_?[eE]nv|env|ENV|getEnvOrDefault|envOr|getEnvOr|GetEnvOrDefault|"
              r"EnvOrDefault|getenv_or|env_or|fetch_env|getEnvironmentVariable)\(\s*(?P<q1>[\"'])" + _ENV_VAR
              + r"(?P=q1)\s*,\s*" + _LIT,
        # Each helper's name starts a word (or follows an escape: "\nenv(" in a transcript), so setenv("X", "…")
        # in tests does not wake the rule.
        hs_patterns=(rf"(?i)(?:\b|\\[nrtfb])(?:get_?env|env|getenvordefault|envordefault|getenvor|envor|getenv_or|env_or|"
                     rf"fetch_env|getenvironmentvariable)\({_HS_WS}{_HS_Q}{_HS_NAME}{_HS_Q}{_HS_WS},{_HS_WS}{_HS_Q}",),
        name_check=True,
        reject="://",
        description="A hardcoded fallback via an env helper: env('X', '…'), getEnv(\"X\", \"…\") (Go, PHP, Node).",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?:System\.getenv|Environment\.GetEnvironmentVariable|os\.Getenv|getenv|os\.environ\.get|"
              r"System\.getProperty|env::var|std::env::var|ENV\.fetch)\(\s*(?P<q1>[\"'])" + _ENV_VAR
              + r"(?P=q1)\s*\)\s*(?:\?\?|\?:|\|\||\bor\b|\.orElse\(|\.unwrap_or\(|\.unwrap_or_else\(\|_\|\s*|"
              r"\.getOrElse\(\s*\{?\s*)\s*" + _LIT,
        hs_patterns=(rf"(?i)(?:getenv|getenvironmentvariable|environ\.get|getproperty|env::var|env\.fetch)\({_HS_WS}"
                     rf"{_HS_Q}{_HS_NAME}{_HS_Q}{_HS_WS}\){_HS_WS}(?:\?\?|\?:|\|\||or|\.orelse\(|\.unwrap_or|"
                     r"\.getorelse\()",),
        name_check=True, reject="://",
        description="A hardcoded fallback: System.getenv(\"X\") ?: \"…\", GetEnvironmentVariable(\"X\") ?? \"…\", "
                    "getenv('X') ?: '…', env::var(\"X\").unwrap_or(\"…\").",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?:Optional\.ofNullable|Objects\.requireNonNullElse|cmp\.Or|firstNonNull|defaultIfBlank|"
              r"StringUtils\.defaultIfEmpty)\(\s*(?:System\.getenv|os\.Getenv|System\.getProperty)\(\s*\"" + _ENV_VAR
              + r"\"\s*\)\s*(?:\)\s*\.orElse\(|,)\s*" + _LIT,
        keywords=("ofnullable(", "requirenonnullelse(", "cmp.or(", "firstnonnull(", "defaultif"),
        name_check=True, reject="://",
        description="A hardcoded fallback: Optional.ofNullable(System.getenv(\"X\")).orElse(\"…\"), "
                    "cmp.Or(os.Getenv(\"X\"), \"…\").",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?:\bENV|\$_ENV|\$_SERVER|process\.env)\[\s*(?P<q1>[\"'])" + _ENV_VAR + r"(?P=q1)\s*\]\s*"
              r"(?:\|\||\?\?|\?:|\bor\b)\s*" + _LIT,
        keywords=("env[", "_server["), name_check=True, reject="://",
        description="A hardcoded fallback: ENV[\"X\"] || \"…\" (Ruby), $_ENV['X'] ?? '…' (PHP).",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"\bENV\.fetch\(\s*(?P<q1>[\"'])" + _ENV_VAR + r"(?P=q1)\s*(?:,|\)\s*\{)\s*" + _LIT,
        keywords=("ENV.fetch",), caseless=False, name_check=True, reject="://",
        description="A hardcoded fallback: ENV.fetch(\"X\", \"…\") / ENV.fetch(\"X\") { \"…\" } (Ruby).",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"\$\{" + _ENV_VAR + r":?[-=](?P<secret>[^}\s\"'$`]{4,200})\}",
        hs_patterns=(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]",), name_check=True, reject="://",
        description="A hardcoded fallback in shell/compose syntax: ${DB_PASSWORD:-literal}.",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"os\.environ\.setdefault\(\s*(?P<q1>[\"'])" + _ENV_VAR + r"(?P=q1)\s*,\s*" + _LIT,
        hs_patterns=(rf"os\.environ\.setdefault\({_HS_WS}{_HS_Q}{_HS_NAME}{_HS_Q}{_HS_WS},{_HS_WS}{_HS_Q}",),
        name_check=True, reject="://",
        description="A hardcoded default: os.environ.setdefault(\"X\", \"…\").",
    ),
)


#: The built-in content rules, most specific first: when two rules report the
#: same value in the same object, the earlier one wins.
BUILTIN_CONTENT_RULES: tuple[ContentRule, ...] = (
    ContentRule(
        id="private-key.block",
        regex=r"-----BEGIN (?P<label>[A-Z0-9 ]{0,20}PRIVATE KEY(?: BLOCK)?)-----(?P<body>[\s\S]{64,}?)"
              r"-----END (?P=label)-----",
        keywords=("PRIVATE KEY",), caseless=False, secret_group=0, placeholder_check=False, multiline=True,
        description="A PEM/OpenSSH/PGP private key block.",
    ),
    *TOKEN_RULES,
    *CREDENTIAL_FILE_RULES,
    LOGIN_CALL_RULE,
    *INLINE_PASSWORD_RULES,
    ContentRule(
        id="dsn.password",
        regex=r"(?i)(?<![a-z0-9+])(?P<scheme>postgres(?:ql)?|mysql|mariadb|rediss?|mongodb(?:\+srv)?|amqps?)"
              r"://(?P<user>[^:@/\s\"'<>]*):(?P<secret>[^@/\s\"'<>]+)@",
        hs_patterns=(r"(?i)(?:postgres|mysql|mariadb|redis|mongodb|amqp)[a-z+]*:(?:\\?/){2}[^:@/\s\"'<>]*:"
                     r"[^@/\s\"'<>]+@",),
        min_len=4,
        description="The password inside a database/cache/queue DSN.",
    ),
    ContentRule(
        id="curl.bearer",
        regex=r"(?i)Authorization:\s*Bearer\s+(?P<secret>[A-Za-z0-9._~+/-]{12,}=*)",
        keywords=("bearer",), min_len=12,
        description="A bearer token in an Authorization header (curl -H, HTTP files).",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?i)process\.env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\||\?\?)\s*"
              + _Q + r"(?P<secret>[^\"'`\r\n]{4,})" + _Q,
        keywords=("process.env",), name_check=True, reject="://",
        description="A hardcoded fallback: process.env.X || \"literal\" / ?? 'literal'.",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"os\.(?:environ\.get|getenv)\(\s*[\"'](?P<name>[A-Za-z_][A-Za-z0-9_]*)[\"']\s*,\s*"
              r"[\"'](?P<secret>[^\"'\r\n]{4,})[\"']",
        hs_patterns=(rf"os\.(?:environ\.get|getenv)\({_HS_WS}{_HS_Q}{_HS_NAME}{_HS_Q}{_HS_WS},{_HS_WS}{_HS_Q}",),
        name_check=True, reject="://",
        description="A hardcoded fallback: os.getenv(\"X\", \"literal\").",
    ),
    *ENV_DEFAULT_RULES,
    ContentRule(
        id="default.{name}",
        regex=r"(?<![A-Za-z0-9_.])" + _UPPER_NAME + r"\s*(?::=|=|:)\s*(?P<q>[\"'])(?P<secret>[^\"'\r\n]{4,})(?P=q)",
        hs_patterns=(rf"{_HS_UPPER_NAME}{_HS_WS}(?::=|=|:){_HS_WS}{_HS_Q}",), reject="://", name_check=True,
        description="A credential constant with a literal: ADMIN_PASSWORD = \"…\".",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?m)(?<![A-Za-z0-9_.])" + _UPPER_NAME + r"=(?P<secret>[^\s\"'`$<>{}();,]{4,})",
        hs_patterns=(rf"{_HS_UPPER_NAME}=[^\s\"'`$<>{{}}();,]{{4}}",), reject="://", name_check=True,
        description="A credential in env/shell syntax: JWT_SECRET=literal.",
    ),
    ContentRule(
        id="keyword.{kw}",
        regex=r"(?i)(?<![a-z0-9_])(?P<name>[a-z0-9_]*?(?P<kw>password|passwd|secret|token|api_?key)[a-z0-9_]*)"
              r"[\"']?\s*(?::=|=>|=|:)\s*"
              r"(?P<q>[\"'])(?P<secret>[^\"'\s]{6,200})(?P=q)",
        hs_patterns=(rf"(?i){_HS_KW}[a-z0-9_]*{_HS_Q}?{_HS_WS}(?::=|=>|=|:){_HS_WS}{_HS_Q}[^\"'\s]{{6}}",),
        reject=r"://|\\", name_check=True, word_check=True,
        description="A quoted literal assigned to a password/secret/token/api_key field.",
    ),
    ContentRule(
        id="keyword.{kw}",
        regex=r"(?im)^[ \t-]*(?P<name>[\w.-]*?(?P<kw>password|passwd|secret|token|api_?key)[\w.-]*)[ \t]*[:=][ \t]*"
              r"(?P<secret>[^\s\"'`#{}()\[\]$<>,;|&]{6,200})[ \t\r]*(?:#.*)?$",
        hs_patterns=(rf"(?i){_HS_KW}[\w.-]*(?:[ \t]|\\t)*[:=](?:[ \t]|\\t)*[^\s\"'`#{{}}()\[\]$<>,;|&]{{6}}",),
        reject=r"://|\\|^[A-Za-z_]\w*\.\w",
        name_check=True, word_check=True,
        paths=_CONFIG_PATHS,
        description="An unquoted password/secret/token in a config file (YAML, INI, properties, tfvars).",
    ),
    CONFIG_PASSWORD_RULE,
)


# --- path rules ---------------------------------------------------------------------------

_KEY_NAMES = re.compile(r"(?i)^(?:id_(?:rsa|dsa|ecdsa|ed25519)|.+\.(?:key|p12|pfx|jks|keystore|p8|pkcs12|ppk)|"
                        r"keystore|.+\.pem)$")
_DOTENV = re.compile(r"^\.env(?:\.[A-Za-z0-9_.-]+)?$")
_DOTENV_TEMPLATES = ("example", "sample", "template", "dist", "defaults", "schema", "tpl", "tmpl", "in")
_ENV_LINE = re.compile(rb"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*=[ \t]*(?P<v>[^\r\n#]*)")
_JSON_KEY = re.compile(r"(?i)passw|secret|token|api_?key|access_?key|private_?key|credential|dsn|bearer|"
                       r"connection_?string")
_JSON_EXT = (".json", ".jsonl", ".ndjson")


def _any_content(_name: str, _data: bytes, _content_hits: int) -> bool:
    return True


@dataclass(frozen=True)
class PathRule:
    """A file whose presence in history is itself the leak (delete the path).

    ``name`` is matched against the file's name (its last path component),
    ``path`` (optional) against the whole path, and ``content`` decides from the
    blob (and how many content findings it has) whether this one holds a secret.
    A new rule is one more entry in :data:`BUILTIN_PATH_RULES` or the ``--rules`` file.
    """

    id: str
    description: str
    name: re.Pattern[str] = re.compile("")
    content: Callable[[str, bytes, int], bool] = _any_content
    path: re.Pattern[str] | None = None

    def matches(self, path: str, data: bytes, content_hits: int) -> bool:
        """Whether this blob at this path is secret-bearing."""
        name = path.rsplit("/", 1)[-1]
        if not self.name.search(name) or (self.path is not None and not self.path.search(path)):
            return False
        return self.content(name, data, content_hits)


def _is_private_key_file(name: str, data: bytes) -> bool:
    if not _KEY_NAMES.match(name) or name.endswith(".pub"):
        return False
    binary = b"\0" in data[:8192]
    lower = name.lower()
    if lower.endswith(".pem") or lower.startswith("id_"):
        return b"PRIVATE KEY" in data
    if not binary and b"-----BEGIN" in data and b"PRIVATE KEY" not in data:
        return False  # a public key or certificate with a .key-like name
    return bool(data.strip())


def _is_dotenv(name: str, data: bytes) -> bool:
    m = _DOTENV.match(name)
    if not m:
        return False
    suffixes = name.lower().split(".")[2:]
    if any(s in _DOTENV_TEMPLATES for s in suffixes):
        return False
    for line in _ENV_LINE.finditer(data):
        value = line.group("v").strip().decode("utf-8", "replace")
        if value and not is_placeholder(value):
            return True
    return False


def _is_credential_json(name: str, data: bytes, content_hits: int) -> bool:
    if not name.lower().endswith(_JSON_EXT) or heuristic.is_lock_file(name):
        return False
    if content_hits:
        return True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    docs: list[Any] = []
    try:
        docs.append(json.loads(text))
    except ValueError:
        for line in text.splitlines():
            try:
                docs.append(json.loads(line))
            except ValueError:
                continue
    return any(_json_has_credential(d) for d in docs)


def _json_has_credential(doc: Any) -> bool:
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if (isinstance(value, str) and isinstance(key, str) and _JSON_KEY.search(key)
                        and len(value) >= 8 and " " not in value.strip() and not is_placeholder(value)):
                    return True
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return False


BUILTIN_PATH_RULES: tuple[PathRule, ...] = (
    PathRule("path.private-key", "A private key file (.pem with a private key, *.key, id_rsa, *.p12, keystores).",
             name=_KEY_NAMES, content=lambda name, data, _hits: _is_private_key_file(name, data)),
    PathRule("path.dotenv", "A committed .env file with real values (not .env.example).",
             name=_DOTENV, content=lambda name, data, _hits: _is_dotenv(name, data)),
    PathRule("path.credential-json", "A JSON document (e.g. a saved chat transcript) holding credentials.",
             name=re.compile(r"(?i)\.(?:json|jsonl|ndjson)$"), content=_is_credential_json),
)


# --- custom rules -------------------------------------------------------------------------


def path_rule(p: Path, rid: str, description: str, *, name: str | None = None,
              path: str | None = None) -> PathRule:
    """A rules file's path rule: the file is the finding when its name (and/or whole path) matches."""
    try:
        return PathRule(rid, description, name=re.compile(name or ""), path=re.compile(path) if path else None)
    except re.error as exc:
        raise UsageError(f"{p}: rule {rid}: invalid path or name regex ({exc})") from None


def load_custom_rules(path: str | Path) -> tuple[ContentRule | PathRule, ...]:
    """Read ``--rules FILE`` (YAML ``.yml``/``.yaml`` or TOML ``.toml``): a list of
    ``{id, regex, keywords, secret_group, path}`` (``path`` alone, or ``name``: a file
    whose presence is the leak), or a gitleaks/betterleaks ``.gitleaks.toml``
    (:mod:`sanitize.scan.peer_rules`). UsageError for anything else."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".yml", ".yaml", ".toml"):
        raise UsageError(f"{p}: unknown rules format {suffix or '(none)'!r}; use .yml, .yaml or .toml")
    text = read_text(p, "rules file")
    try:
        data: Any = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{p}: not valid {suffix[1:].upper()} ({exc.__class__.__name__})") from exc
    if suffix == ".toml":
        from sanitize.scan.peer_rules import is_gitleaks_config, rules_from_gitleaks

        if is_gitleaks_config(data):
            return rules_from_gitleaks(p, data)
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list) or not data:
        raise UsageError(f"{p}: expected a non-empty list of rules (or a 'rules' list)")
    return tuple(_custom_rule(p, i, entry) for i, entry in enumerate(data))


def _custom_rule(p: Path, index: int, entry: Any) -> ContentRule | PathRule:
    if not isinstance(entry, dict):
        raise UsageError(f"{p}: rule #{index + 1} is not a mapping")
    unknown = set(entry) - {"id", "regex", "keywords", "secret_group", "description", "path", "name"}
    if unknown:
        raise UsageError(f"{p}: rule #{index + 1} has unknown keys: {', '.join(sorted(unknown))}")
    rid, regex = entry.get("id"), entry.get("regex")
    where = {k: entry[k] for k in ("path", "name") if k in entry}
    if not all(isinstance(v, str) and v for v in where.values()):
        raise UsageError(f"{p}: rule #{index + 1}: 'path' and 'name' must be non-empty regexes")
    if isinstance(rid, str) and rid and regex is None and where:
        return path_rule(p, rid, str(entry.get("description", "")), **where)
    if not isinstance(rid, str) or not rid or not isinstance(regex, str) or not regex:
        raise UsageError(f"{p}: rule #{index + 1} needs a string 'id' and a 'regex' (or a 'path'/'name' for a "
                         "file whose presence is the leak)")
    if "name" in where:
        raise UsageError(f"{p}: rule {rid}: 'name' is for path rules; restrict a content rule with 'path'")
    keywords = entry.get("keywords", [])
    if isinstance(keywords, str):
        keywords = [keywords]
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise UsageError(f"{p}: rule {rid}: 'keywords' must be a list of strings")
    group = entry.get("secret_group")
    if group is None:
        try:
            group = 1 if re.compile(regex).groups else 0
        except re.error as exc:
            raise UsageError(f"rule {rid}: invalid regex ({exc})") from exc
    if not isinstance(group, (int, str)) or isinstance(group, bool):
        raise UsageError(f"{p}: rule {rid}: 'secret_group' must be a group number or name")
    if "path" in where:
        try:
            re.compile(where["path"])
        except re.error as exc:
            raise UsageError(f"{p}: rule {rid}: invalid path regex ({exc})") from None
    return ContentRule(id=rid, regex=regex, keywords=tuple(keywords), multiline=True,
                       secret_group=group, min_len=1, description=str(entry.get("description", "")),
                       paths=where.get("path", ""))
