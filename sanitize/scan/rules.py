"""The scan's rules as data: path rules, content rules, and the value filters they share.

A rule is a few declarative lines (an id, prefilter keywords, a pattern, the
group that holds the secret); the engine (:mod:`sanitize.scan.detectors`) does
the looping. Rule ids are stable strings; an id may name a captured group in
braces (``default.{name}``), so ``process.env.JWT_SECRET || "…"`` is reported
as ``default.jwt-secret``. Custom rules come from a YAML or TOML file
(``--rules``) and are added to the built-in table.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from detect_secrets.filters import heuristic

from sanitize.errors import UsageError
from sanitize.inputs import read_text
from sanitize.scan.providers import TOKEN_FORMATS, TokenFormat, is_placeholder_token

# --- shared value filters -----------------------------------------------------------------

#: Values documentation and templates use in place of a real secret.
PLACEHOLDERS = frozenset({
    "changeme", "change_me", "change-me", "changeit", "password", "passwd", "pass", "pwd", "secret", "secrets",
    "token", "apikey", "api_key", "example", "sample", "placeholder", "redacted", "dummy", "default", "null",
    "none", "nil", "undefined", "true", "false", "test", "testing", "admin", "root", "user", "username", "foo",
    "bar", "foobar", "xxx", "todo", "fixme", "hunter2", "letmein", "mysecret", "mypassword", "secretkey",
    "your_password", "yourpassword", "s3cr3t", "p@ssw0rd", "password123", "bearer",
})
_PLACEHOLDER_PARTS = ("example", "your-", "your_", "yourpass", "yoursecret", "yourtoken", "replace_me", "replace-me",
                      "insert_", "insert-", "dummy", "placeholder", "redacted", "xxxxx", "*****",
                      "***removed***")  # git-filter-repo's (and our plan's) replacement marker
_TEMPLATE = re.compile(r"^(?:<[^>]*>?|\$\{?\w*\}?|\{\{.*|\{%.*|%\(.*|%[sd]|#\{.*|\[\[.*|\.\.\.+|__\w+__)$|\$\{|\{\{")


def is_placeholder(value: str) -> bool:
    """True for a documented example, a template reference or a stand-in, never a real secret.

    Combines detect-secrets' heuristic filters with the placeholder shapes our
    decoys use (``<your-password>``, ``${VAR}``, ``{{ var }}``, ``…EXAMPLE``).
    """
    v = value.strip().strip("\"'`")
    low = v.lower()
    if len(v) < 4 or low in PLACEHOLDERS:
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


_SECRETISH = re.compile(r"(?i)secret|passw|pwd|token|api_?key|private_?key|access_?key|credential|auth_?key|"
                        r"signing_?key|encryption_?key|dsn|database_url|db_url|session_?key|client_?secret")


# Names that mention a credential but hold something else: a switch, a file, a length, a helper.
_NOT_A_VALUE = re.compile(r"(?i)^no_|etc_?passwd|_(?:file|path|dir|len|length|min|max|type|name|header|field|param|"
                          r"helper|timeout|ttl|expiry|expires|enabled|required|policy|method|algorithm|alg|version|"
                          r"prefix|mode|store|backend|provider|location|endpoint|rotation|count|size|id)s?$")


def is_secretish_name(name: str) -> bool:
    """True for a variable name that conventionally holds a credential (JWT_SECRET, not PORT or TOKEN_TTL)."""
    return bool(_SECRETISH.search(name)) and not _NOT_A_VALUE.search(name)


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
    word_check: bool = False  # generic field names: a plain word ("address") is not a secret
    min_len: int = 6
    multiline: bool = False  # the pattern spans lines: run it over the whole blob, not keyword lines
    reject: str = ""  # a value matching this is not this rule's (e.g. a URL: the DSN rule owns it)
    paths: str = ""  # only for files whose path matches (e.g. config formats); never for messages
    description: str = ""
    compiled: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    compiled_paths: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "compiled", re.compile(self.regex.encode("utf-8")))
        except re.error as exc:
            raise UsageError(f"rule {self.id}: invalid regex ({exc})") from exc
        object.__setattr__(self, "compiled_paths", re.compile(self.paths) if self.paths else None)
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
        if self.name_check:
            name = match.groupdict().get("name")
            if name is None or not is_secretish_name(name.decode("utf-8", "replace")):
                return False
        if self.word_check and not looks_random(value):
            return False
        if self.token_check:
            return not is_placeholder_token(match, value)
        return not (self.placeholder_check and is_placeholder(value))


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
_CONFIG_PATHS = r"(?i)\.(?:ya?ml|ini|cfg|conf|cnf|properties|toml|tfvars|env)$|(?:^|/)\.env(?:\.[\w.-]+)?$"
_SECRET_NAMES = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY",
                 "CREDENTIAL", "AUTH_KEY", "SIGNING_KEY", "CLIENT_SECRET", "DSN", "DATABASE_URL")
_UPPER_NAME = r"(?P<name>[A-Z0-9_]*(?:" + "|".join(_SECRET_NAMES) + r")[A-Z0-9_]*)"

def token_rule(fmt: TokenFormat) -> ContentRule:
    """A provider format (:mod:`sanitize.scan.providers`) as a content rule."""
    keywords, hs_patterns, caseless = fmt.prefilter()
    return ContentRule(id=fmt.id, regex=fmt.regex(), keywords=keywords, hs_patterns=hs_patterns, caseless=caseless,
                       min_len=fmt.min_len, token_check=True, description=fmt.description)


#: One content rule per provider token format, in the table's order.
TOKEN_RULES: tuple[ContentRule, ...] = tuple(token_rule(fmt) for fmt in TOKEN_FORMATS)

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
    ContentRule(
        id="dsn.password",
        regex=r"(?i)(?<![a-z0-9+])(?P<scheme>postgres(?:ql)?|mysql|mariadb|rediss?|mongodb(?:\+srv)?|amqps?)"
              r"://(?P<user>[^:@/\s\"'<>]*):(?P<secret>[^@/\s\"'<>]+)@",
        keywords=("postgres", "mysql", "mariadb", "redis", "mongodb", "amqp"), min_len=4,
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
        keywords=("environ.get", "getenv"), caseless=False, name_check=True, reject="://",
        description="A hardcoded fallback: os.getenv(\"X\", \"literal\").",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?<![A-Za-z0-9_.])" + _UPPER_NAME + r"\s*(?::=|=|:)\s*(?P<q>[\"'])(?P<secret>[^\"'\r\n]{4,})(?P=q)",
        keywords=_SECRET_NAMES, caseless=False, reject="://", name_check=True,
        description="A credential constant with a literal: ADMIN_PASSWORD = \"…\".",
    ),
    ContentRule(
        id="default.{name}",
        regex=r"(?m)(?<![A-Za-z0-9_.])" + _UPPER_NAME + r"=(?P<secret>[^\s\"'`$<>{}();,]{4,})",
        keywords=_SECRET_NAMES, caseless=False, reject="://", name_check=True,
        description="A credential in env/shell syntax: JWT_SECRET=literal.",
    ),
    ContentRule(
        id="keyword.{kw}",
        regex=r"(?i)(?<![a-z0-9_])(?P<name>[a-z0-9_]*?(?P<kw>password|passwd|secret|token|api_?key)[a-z0-9_]*)"
              r"[\"']?\s*(?::=|=>|=|:)\s*"
              r"(?P<q>[\"'])(?P<secret>[^\"'\s]{6,200})(?P=q)",
        keywords=("password", "passwd", "secret", "token", "api_key", "apikey"), reject=r"://|\\", name_check=True,
        word_check=True,
        description="A quoted literal assigned to a password/secret/token/api_key field.",
    ),
    ContentRule(
        id="keyword.{kw}",
        regex=r"(?im)^[ \t-]*(?P<name>[\w.-]*?(?P<kw>password|passwd|secret|token|api_?key)[\w.-]*)[ \t]*[:=][ \t]*"
              r"(?P<secret>[^\s\"'`#{}()\[\]$<>,;|&]{6,200})[ \t\r]*(?:#.*)?$",
        keywords=("password", "passwd", "secret", "token", "api_key", "apikey"), reject=r"://|\\|^[A-Za-z_]\w*\.\w",
        name_check=True, word_check=True,
        paths=_CONFIG_PATHS,
        description="An unquoted password/secret/token in a config file (YAML, INI, properties, tfvars).",
    ),
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


@dataclass(frozen=True)
class PathRule:
    """A file whose presence in history is itself the leak (delete the path)."""

    id: str
    description: str

    def matches(self, path: str, data: bytes, content_hits: int) -> bool:
        """Whether this blob at this path is secret-bearing."""
        name = path.rsplit("/", 1)[-1]
        if self.id == "path.private-key":
            return _is_private_key_file(name, data)
        if self.id == "path.dotenv":
            return _is_dotenv(name, data)
        if self.id == "path.credential-json":
            return _is_credential_json(name, data, content_hits)
        return False


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
    PathRule("path.private-key", "A private key file (.pem with a private key, *.key, id_rsa, *.p12, keystores)."),
    PathRule("path.dotenv", "A committed .env file with real values (not .env.example)."),
    PathRule("path.credential-json", "A JSON document (e.g. a saved chat transcript) holding credentials."),
)


# --- custom rules -------------------------------------------------------------------------


def load_custom_rules(path: str | Path) -> tuple[ContentRule, ...]:
    """Read ``--rules FILE`` (YAML ``.yml``/``.yaml`` or TOML ``.toml``): a list of
    ``{id, regex, keywords, secret_group}``. UsageError for anything else."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".yml", ".yaml", ".toml"):
        raise UsageError(f"{p}: unknown rules format {suffix or '(none)'!r}; use .yml, .yaml or .toml")
    text = read_text(p, "rules file")
    try:
        data: Any = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{p}: not valid {suffix[1:].upper()} ({exc.__class__.__name__})") from exc
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list) or not data:
        raise UsageError(f"{p}: expected a non-empty list of rules (or a 'rules' list)")
    return tuple(_custom_rule(p, i, entry) for i, entry in enumerate(data))


def _custom_rule(p: Path, index: int, entry: Any) -> ContentRule:
    if not isinstance(entry, dict):
        raise UsageError(f"{p}: rule #{index + 1} is not a mapping")
    unknown = set(entry) - {"id", "regex", "keywords", "secret_group", "description"}
    if unknown:
        raise UsageError(f"{p}: rule #{index + 1} has unknown keys: {', '.join(sorted(unknown))}")
    rid, regex = entry.get("id"), entry.get("regex")
    if not isinstance(rid, str) or not rid or not isinstance(regex, str) or not regex:
        raise UsageError(f"{p}: rule #{index + 1} needs a string 'id' and 'regex'")
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
    return ContentRule(id=rid, regex=regex, keywords=tuple(keywords), multiline=True,
                       secret_group=group, min_len=1, description=str(entry.get("description", "")))
