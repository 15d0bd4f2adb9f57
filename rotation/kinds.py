"""What kind of credential a value is, and what it takes to make a leaked one dead.

A credential's kind decides whether rotating it in the store alone means
anything. A random ``JWT_SECRET`` lives only in the store, so a store
rotation is the rotation (but nothing here can prove consumers stopped
accepting the old one). A DSN's password lives in its database: rotating the
stored DSN without a database target leaves the leaked login working and
hands consumers a password the server refuses. A provider token (GitHub,
Slack, Stripe, …) only dies at its provider.

``KINDS`` is the table: one :class:`CredentialKind` per kind, with the targets
that can rotate it here, whether store-only rotation is acceptable, the exact
step for the operator, and the scan rules that report it. Detection reads the
value's shape (DSN scheme, the scan's own provider-token rules, a JSON access
key pair) and then the secret's name; it never returns or logs the value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from rotation.generate import is_dsn
from sanitize.secret import Secret

#: Targets that can rotate any kind: the operator's own hook (proven only with ``prove_leak``).
ANY_KIND_TARGETS = ("command",)


@dataclass(frozen=True)
class CredentialKind:
    """A kind of credential: who can rotate it here and what the operator must do otherwise."""

    id: str
    label: str
    targets: tuple[str, ...] = ()  # target types that rotate it at the system that checks it
    store_only: bool = False  # a store rotation is the whole rotation (random app secrets)
    action: str = ""  # the exact step while it is still live ({name} is the secret's or finding's name)
    link: str | None = None  # where the operator does it
    rules: tuple[str, ...] = ()  # scan rule ids (prefix match on "family.") that report this kind

    def accepts(self, target_kind: str) -> bool:
        """Whether a configured target of ``target_kind`` can rotate this kind."""
        if target_kind == "none":
            return self.store_only
        return target_kind in self.targets or target_kind in ANY_KIND_TARGETS

    def instruction(self, name: str, *, configured: bool = True) -> str:
        """The operator's step, ending with how to mark it done (``configured``: ``name`` is in rotation.yml)."""
        step = self.action.format(name=name if configured else "the secret that holds it")
        if not configured:
            step = f"{self.label} that rotation.yml does not hold: " + step
        where = f" ({self.link})" if self.link else ""
        return f"{step}{where}; then mark it done: git-sanitize rotate --config rotation.yml --ack {name}"


_ACK = "revoke it at the provider and put the replacement in the store"
KINDS: dict[str, CredentialKind] = {k.id: k for k in (
    CredentialKind("postgres-dsn", "a PostgreSQL DSN", targets=("postgres", "vault_db"),
                   action="add `target: {{type: postgres, admin_dsn_env: NAME}}` to {name} in rotation.yml and "
                          "re-run, or change the role's password with ALTER ROLE and update the store"),
    CredentialKind("mysql-dsn", "a MySQL/MariaDB DSN", targets=("mysql",),
                   action="add `target: {{type: mysql, admin_dsn_env: NAME}}` to {name} in rotation.yml and "
                          "re-run, or run ALTER USER … IDENTIFIED BY … for every host of the user, KILL its "
                          "sessions and update the store"),
    CredentialKind("redis-dsn", "a Redis DSN", targets=("redis",),
                   action="add `target: {{type: redis, admin_dsn_env: NAME}}` to {name} in rotation.yml and "
                          "re-run, or run ACL SETUSER user >new <old (CONFIG SET requirepass for the default "
                          "user), CLIENT KILL USER user, and update the store"),
    CredentialKind("mongodb-dsn", "a MongoDB DSN",
                   action="no mongodb target exists yet: run db.changeUserPassword(user, new) as an admin, "
                          "end the user's sessions (killAllSessionsByPattern), and update the store",
                   link="https://www.mongodb.com/docs/manual/reference/method/db.changeUserPassword/"),
    CredentialKind("amqp-dsn", "an AMQP (RabbitMQ) DSN",
                   action="no amqp target exists: run rabbitmqctl change_password USER NEW, close the user's "
                          "connections, and update the store",
                   link="https://www.rabbitmq.com/docs/passwords"),
    CredentialKind("dsn", "a database/cache/queue DSN", targets=("postgres", "vault_db", "mysql", "redis"),
                   action="add {name} to rotation.yml with the target for its database (postgres, mysql, redis) "
                          "and re-run, or change the password on the server and in the store",
                   rules=("dsn.",)),
    CredentialKind("aws-access-key", "an AWS IAM access key", targets=("aws_iam",),
                   action="add `target: {{type: aws_iam}}` to {name} (the key pair stored as one JSON value) and "
                          "re-run, or create a new key for the IAM user, deploy it, then deactivate and delete "
                          "the leaked key (aws iam update-access-key --status Inactive; aws iam delete-access-key)",
                   link="https://console.aws.amazon.com/iam/home#/users", rules=("aws.",)),
    CredentialKind("github-token", "a GitHub token",
                   action=_ACK + " (delete the token, or report a token you do not own through GitHub's "
                                 "credential revocation API)",
                   link="https://github.com/settings/tokens", rules=("github.",)),
    CredentialKind("gitlab-token", "a GitLab token", action=_ACK,
                   link="https://gitlab.com/-/user_settings/personal_access_tokens", rules=("gitlab.",)),
    CredentialKind("slack-token", "a Slack token", action=_ACK + " (revoke with auth.revoke or reinstall the app)",
                   link="https://api.slack.com/apps", rules=("slack.token",)),
    CredentialKind("slack-webhook", "a Slack incoming-webhook URL",
                   action="remove the webhook in the app's Incoming Webhooks page and put the new URL in the store",
                   link="https://api.slack.com/apps", rules=("slack.webhook",)),
    CredentialKind("stripe-key", "a Stripe API key", action="roll the key in the dashboard and put the new one "
                                                           "in the store",
                   link="https://dashboard.stripe.com/apikeys", rules=("stripe.",)),
    CredentialKind("openai-key", "an OpenAI API key", action=_ACK,
                   link="https://platform.openai.com/api-keys", rules=("openai.",)),
    CredentialKind("anthropic-key", "an Anthropic API key", action=_ACK,
                   link="https://console.anthropic.com/settings/keys", rules=("anthropic.",)),
    CredentialKind("private-key", "a private key", targets=("jwks",),
                   action="revoke its certificate at the CA (or remove the public key from every authorized_keys), "
                          "issue a new key pair and deploy it; a JWT signing key: add `target: {{type: jwks, ...}}` "
                          "and `generate: {{kind: keypair, alg: RS256|ES256|EdDSA}}` to {name} and re-run",
                   rules=("private-key.", "path.private-key")),
    CredentialKind("bearer-token", "a bearer token",
                   action="revoke the token at the service that issued it and put the new one in the store",
                   rules=("curl.bearer",)),
    CredentialKind("secret", "an application secret", store_only=True,
                   targets=("postgres", "vault_db", "mysql", "redis", "aws_iam", "sql", "jwks"),
                   action="add {name} to rotation.yml (where it is stored and how to generate it) and re-run, or "
                          "replace it by hand and restart every consumer",
                   rules=("default.", "keyword.")),
)}

#: Scan rules that report a file which *holds* credentials: its content findings name them one by one.
CONTAINER_RULES = ("path.dotenv", "path.credential-json")

_SCHEMES = {"postgres": "postgres-dsn", "postgresql": "postgres-dsn", "mysql": "mysql-dsn", "mariadb": "mysql-dsn",
            "redis": "redis-dsn", "rediss": "redis-dsn", "mongodb": "mongodb-dsn", "mongodb+srv": "mongodb-dsn",
            "amqp": "amqp-dsn", "amqps": "amqp-dsn"}
# Value shapes not covered by the scan's rules (prefixes only: no token-shaped literal lives here).
_PREFIXES = (("glpat-", "gitlab-token"), ("sk-ant-", "anthropic-key"))
_RULE_KINDS = {"github.token": "github-token", "slack.token": "slack-token", "slack.webhook": "slack-webhook",
               "stripe.key": "stripe-key", "openai.key": "openai-key", "aws.access-key": "aws-access-key",
               "private-key.block": "private-key"}
_NAMES = (
    (re.compile(r"AWS_(?:SECRET_)?ACCESS_KEY(?:_ID)?$|AWS_SECRET_KEY$"), "aws-access-key"),
    (re.compile(r"(?:^|_)(?:GITHUB|GH)_(?:\w+_)?(?:TOKEN|PAT)$"), "github-token"),
    (re.compile(r"(?:^|_)GITLAB_(?:\w+_)?(?:TOKEN|PAT)$"), "gitlab-token"),
    (re.compile(r"(?:^|_)SLACK_(?:\w+_)?(?:TOKEN|WEBHOOK(?:_URL)?)$"), "slack-token"),
    (re.compile(r"(?:^|_)STRIPE_(?:\w+_)?(?:KEY|SECRET)$"), "stripe-key"),
    (re.compile(r"(?:^|_)OPENAI_(?:\w+_)?KEY$"), "openai-key"),
    (re.compile(r"(?:^|_)ANTHROPIC_(?:\w+_)?KEY$"), "anthropic-key"),
)
#: Field names of an AWS access key pair stored as one JSON value (the shape the aws_iam target writes).
AWS_KEY_ID_FIELDS = ("aws_access_key_id", "AccessKeyId", "access_key_id", "AWS_ACCESS_KEY_ID")


def kind_of_rule(rule: str) -> CredentialKind | None:
    """The kind a scan finding's rule reports; None for a container file (its content is reported apart)."""
    if rule in CONTAINER_RULES:
        return None
    for kind in KINDS.values():
        if any(rule == r or (r.endswith(".") and rule.startswith(r)) for r in kind.rules):
            return kind
    return KINDS["secret"]


def _by_provider_rule(value: str) -> str | None:
    from sanitize.scan.rules import BUILTIN_CONTENT_RULES

    data = value.strip().encode("utf-8", "replace")
    for rule in BUILTIN_CONTENT_RULES:
        kind = _RULE_KINDS.get(rule.id)
        if kind is None:
            continue
        match = rule.compiled.search(data)
        if match and match.group(rule.secret_group) == data:
            return kind
    return None


def detect(name: str, value: Secret) -> CredentialKind:
    """The kind of the stored ``value`` of secret ``name`` (shape first, then the name)."""
    text = value.reveal().strip()
    try:
        scheme = urlsplit(text).scheme.lower().split("+pymysql")[0].split("+mysqldb")[0]
    except ValueError:
        scheme = ""
    if "://" in text and "@" in text:
        if scheme in _SCHEMES:
            return KINDS[_SCHEMES[scheme]]
        if scheme.startswith(("mysql", "mariadb")):
            return KINDS["mysql-dsn"]
    if "://" not in text and is_dsn(text):
        return KINDS["postgres-dsn"]  # libpq keyword form
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and any(f in doc for f in AWS_KEY_ID_FIELDS):
            return KINDS["aws-access-key"]
        if isinstance(doc, dict) and doc.get("kty") in ("RSA", "EC", "OKP") and "d" in doc:
            return KINDS["private-key"]  # a private JWK (an asymmetric JWT signing key)
    found = _by_provider_rule(text)
    if found:
        return KINDS[found]
    for prefix, kind_id in _PREFIXES:
        if text.startswith(prefix):
            return KINDS[kind_id]
    upper = name.upper()
    for pattern, kind_id in _NAMES:
        if pattern.search(upper):
            return KINDS[kind_id]
    return KINDS["secret"]
