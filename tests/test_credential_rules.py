"""Credential files by name and shape, env fallbacks across languages, inline passwords: one case table.

Every rule of ``CREDENTIAL_FILE_RULES``, ``ENV_DEFAULT_RULES``, ``INLINE_PASSWORD_RULES``, ``LOGIN_CALL_RULE`` has
positive cases (path, text, the exact value, the reported id) and negative cases (a reference,
a placeholder, the wrong file). Values are generated from a seed at run time.
"""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from sanitize.scan.detectors import Detector
from sanitize.scan.rules import (
    CONFIG_PASSWORD_RULE,
    CREDENTIAL_FILE_RULES,
    ENV_DEFAULT_RULES,
    INLINE_PASSWORD_RULES,
    LOGIN_CALL_RULE,
    ContentRule,
)
from sanitize.secret import sha256_hex

RNG = random.Random(9090)
ALNUM = string.ascii_letters + string.digits
DETECTOR = Detector()


def _r(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _pw(n: int = 16) -> str:
    return _r(string.ascii_uppercase, 2) + _r(string.ascii_lowercase, 3) + _r(ALNUM, n - 7) + _r(string.digits, 2)


def _word() -> str:
    """A weak, dictionary-style password: what credential files often really hold."""
    return RNG.choice(["sunshine", "dragonfly", "bluebird", "orchard"]) + _r(string.digits, 2)


def _bcrypt() -> str:
    return "$2" + "y$12$" + _r(ALNUM + "./", 53)


def _plain_word() -> str:
    """A single dictionary word: the generic keyword rules leave it out, credential files still count it."""
    return RNG.choice(["sunshine", "dragonfly", "bluebird", "orchard"])


def _b64pair() -> str:
    return base64.b64encode(f"deploy:{_pw()}".encode()).decode()


RULES: dict[str, ContentRule] = {r.description: r for r in (*CREDENTIAL_FILE_RULES, *ENV_DEFAULT_RULES,
                                                             LOGIN_CALL_RULE, *INLINE_PASSWORD_RULES,
                                                             CONFIG_PASSWORD_RULE)}


def _rule(prefix: str) -> ContentRule:
    (rule,) = [r for d, r in RULES.items() if d.startswith(prefix)]
    return rule


# (description prefix, path, text with {v}, value, reported id)
POSITIVE: list[tuple[str, str, str, str, str]] = [
    ("An npm registry token", ".npmrc", "//npm.registry.corp.test/:_authToken={v}\n",
     "-".join(_r("0123456789abcdef", n) for n in (8, 4, 4, 4, 12)), "file.npmrc-auth-token"),
    ("An npm registry token", "ci/publish.sh", 'echo "//npm.pkg.github.com/:_authToken={v}" > .npmrc\n',
     "npm" + "_" + _r(ALNUM, 36), "token.npm-token"),  # the provider format is more specific
    ("An .npmrc _auth", ".npmrc", "_auth = {v}\nalways-auth=true\n", _b64pair(), "file.npmrc-auth"),
    ("An .npmrc _auth", "web/.npmrc", "//registry.corp.test/:_password={v}\n",
     base64.b64encode(_pw().encode()).decode(), "file.npmrc-password"),
    ("A Yarn Berry", ".yarnrc.yml", 'npmRegistries:\n  "https://npm.corp.test":\n    npmAuthToken: "{v}"\n',
     _r(ALNUM, 40), "file.yarnrc-auth-token"),
    ("The password of a .netrc", ".netrc", "machine api.corp.test\n  login deploy\n  password {v}\n", _word(),
     "file.netrc-password"),
    ("The password of a .netrc", "home/_netrc", "machine h login u password {v}\n", _pw(),
     "file.netrc-password"),
    ("A .netrc machine line", "ci/setup.sh", 'echo "machine git.corp.test login ci password {v}" >> ~/.netrc\n',
     _pw(), "file.netrc-password"),
    ("The password (fifth field)", ".pgpass", "# host:port:db:user:password\ndb.internal:5432:app:svc:{v}\n",
     _word(), "file.pgpass-password"),
    ("A password or token in git's", ".git-credentials", "https://deploy:{v}@git.corp.test\n",
     _pw() + "!#@", "file.git-credentials"),
    ("A password hash", "etc/shadow", "root:{v}:19000:0:99999:7:::\n", "$6$" + _r(ALNUM, 16) + "$" +
     _r(ALNUM + "./", 86), "file.password-hash"),
    ("A password hash", "db/dump.sql", "INSERT INTO `users` VALUES (1, 'ann', '{v}', 1);\n", _bcrypt(),
     "file.password-hash"),
    ("A password hash", "web/.htpasswd", "ann:{v}\n", "$apr1$" + _r(ALNUM, 8) + "$" + _r(ALNUM + "./", 22),
     "file.password-hash"),
    ("A DES-crypt", "web/.htpasswd", "ann:{v}\n", _r(ALNUM + "./", 13), "file.htpasswd-des"),
    ("A WordPress", "wp-config.php", "define( 'DB_PASSWORD', '{v}' );\n", _word(), "file.wp-config-db-password"),
    ("A WordPress", "site/wp-config.php", "define('NONCE_SALT', '{v}');\n",
     _r(ALNUM + "!@#$%^&*()-_[]{}<>~+=,.;:/?|", 64).replace("'", "").replace("\\", ""),
     "file.wp-config-nonce-salt"),
    ("A password in SQL", "db/init.sql", "CREATE USER 'app'@'%' IDENTIFIED BY '{v}';\n", _word(), "sql.password"),
    ("A password in SQL", "migrations/001.sql", "CREATE ROLE app WITH LOGIN PASSWORD '{v}';\n", _pw(),
     "sql.password"),
    ("A password in SQL", "db/grants.sql", "GRANT ALL ON *.* TO 'x'@'%' IDENTIFIED BY PASSWORD '{v}';\n",
     "*" + _r("0123456789ABCDEF", 40), "sql.password"),
    ("A Firefox saved login", "profile/logins.json", '{{"encryptedPassword": "{v}"}}',
     "ME" + _r(ALNUM + "+/", 60) + "==", "file.firefox-login"),
    ("A password element in an XML", "maven/settings.xml", "<server><password>{v}</password></server>\n",
     _word(), "file.xml-password"),
    ("A quoted password in a config", "db/dbeaver-data-sources.xml", '<connection user="u" password="{v}"/>\n',
     _plain_word(), "file.config-password"),
    ("A quoted password in a config", ".ftpconfig", '{{"user": "root", "pass": "{v}"}}\n', _plain_word(),
     "file.config-password"),
    ("A quoted password in a config", "robo/robomongo.json", '{{"sshPassphrase": "{v}"}}\n', _plain_word(),
     "file.config-password"),
    ("A password, secret key or token", "cloud/.s3cfg", "[default]\nsecret_key = {v}\n", _r(ALNUM + "/+", 38),
     "file.credential-field"),
    ("A password, secret key or token", ".pypirc", "[pypi]\nusername = ann\npassword = {v}\n", _word(),
     "file.credential-field"),
    ("A password, secret key or token", "cloud/.tugboat", "authentication:\n  api_key: {v} # rotate\n",
     _r("0123456789abcdef", 32), "file.credential-field"),
    ("A kubeconfig user's private key", "ops/kubeconfig-prod", "    client-key-data: {v}\n",
     base64.b64encode(RNG.randbytes(120)).decode(), "file.kubeconfig-client-key"),
    ("A credential baked into an image", "docker/Dockerfile.api", "FROM python:3.12\nENV DB_PASSWORD {v}\n", _pw(),
     "default.db-password"),
    ("A quoted password in a config", "infra/terraform.tfstate", '{{"attributes": {{"password": "{v}"}}}}',
     _plain_word(), "file.config-password"),
    ("A password in a mail/FTP", ".esmtprc", 'hostname smtp.corp.test:587\npassword "{v}"\n', _word(),
     "file.rc-password"),
    ("A literal password passed to a login", "web/js/sf.js", "conn.login('ann@corp.test', '{v}', cb);\n", _pw(),
     "code.login-password"),
    ("The password of an ADO.NET", "appsettings.json",
     '{{"Default": "Server=db.corp;Database=app;User ID=sa;Password={v};"}}', _pw(), "connstr.password"),
    ("A password in a URL query", "app.properties", "db.url=jdbc:mysql://db:3306/app?user=app&password={v}\n",
     _pw(), "url.password-param"),
    ("A password on a command line", "deploy.sh", "mysql -u root -p{v} app < dump.sql\n", _pw(), "cli.password"),
    ("A password on a command line", "ops.sh", "sshpass -p '{v}' ssh deploy@host\n", _pw(), "cli.password"),
    ("A password on a command line", ".gitlab-ci.yml", "  - docker login -u ci -p {v} registry.corp\n", _pw(),
     "cli.password"),
    ("The password of curl -u", "README.md", "curl -u admin:{v} https://api.corp.test/v1\n", _pw(),
     "cli.curl-user"),
    ("A hardcoded fallback via an env helper", "config/database.php", "'password' => env('DB_PASSWORD', '{v}'),\n",
     _pw(), "default.db-password"),
    ("A hardcoded fallback via an env helper", "main.go", 'secret := getEnv("JWT_SECRET", "{v}")\n', _pw(),
     "default.jwt-secret"),
    ("A hardcoded fallback: System.getenv", "App.kt", 'val key = System.getenv("API_KEY") ?: "{v}"\n', _pw(),
     "default.api-key"),
    ("A hardcoded fallback: System.getenv", "Program.cs",
     'var pw = Environment.GetEnvironmentVariable("DB_PASSWORD") ?? "{v}";\n', _pw(), "default.db-password"),
    ("A hardcoded fallback: System.getenv", "index.php", "$t = getenv('AUTH_TOKEN') ?: '{v}';\n", _pw(),
     "default.auth-token"),
    ("A hardcoded fallback: System.getenv", "src/main.rs",
     'let s = env::var("SESSION_SECRET").unwrap_or("{v}".to_string());\n', _pw(), "default.session-secret"),
    ("A hardcoded fallback: Optional.ofNullable", "Config.java",
     'String s = Optional.ofNullable(System.getenv("CLIENT_SECRET")).orElse("{v}");\n', _pw(),
     "default.client-secret"),
    ("A hardcoded fallback: Optional.ofNullable", "cfg.go", 'pw := cmp.Or(os.Getenv("DB_PASSWORD"), "{v}")\n',
     _pw(), "default.db-password"),
    ("A hardcoded fallback: ENV[", "config/app.rb", 'KEY = ENV["SECRET_KEY_BASE"] || "{v}"\n', _pw(),
     "default.secret-key-base"),
    ("A hardcoded fallback: ENV[", "boot.php", "$k = $_ENV['APP_SECRET'] ?? '{v}';\n", _pw(), "default.app-secret"),
    ("A hardcoded fallback: ENV.fetch", "config/initializers/x.rb", 'ENV.fetch("API_TOKEN", "{v}")\n', _pw(),
     "default.api-token"),
    ("A hardcoded fallback: ENV.fetch", "config/y.rb", 'ENV.fetch("API_TOKEN") {{ "{v}" }}\n', _pw(),
     "default.api-token"),
    ("A hardcoded fallback in shell", "docker-compose.yml", "      POSTGRES_PASSWORD: ${{DB_PASSWORD:-{v}}}\n",
     _pw(), "default.db-password"),
    ("A hardcoded default: os.environ.setdefault", "settings.py",
     'os.environ.setdefault("DJANGO_SECRET_KEY", "{v}")\n', _pw(), "default.django-secret-key"),
]

# (path, text): nothing may be reported.
NEGATIVE: list[tuple[str, str]] = [
    (".npmrc", "//npm.registry.corp.test/:_authToken=${NPM_TOKEN}\n"),
    (".npmrc", "_auth = ${NPM_AUTH}\n"),
    (".docker/config.json", '{"auths": {"reg.test": {"auth": "bm90LWEtcGFpcg"}}}'),  # base64 without a colon
    ("src/app.json", '{"auth": "required"}'),
    (".netrc", "machine h login u password $NETRC_PASSWORD\n"),
    ("notes/netrc.md", "machine h\n  password hunter7x\n"),  # not a .netrc file, no machine/login line
    (".pgpass", "# host:port:db:user:password\n"),
    (".git-credentials", "https://git.corp.test\n"),
    ("src/hash.py", "h = '" + _bcrypt() + "'\n"),  # a hash in code is not a credential store
    ("wp-config.php", "define( 'AUTH_KEY', 'put your unique phrase here' );\n"),
    ("wp-config.php", "define( 'DB_PASSWORD', 'password_here' );\n"),
    ("db/init.sql", "CREATE USER app IDENTIFIED BY '${APP_PASSWORD}';\n"),
    ("conf/settings.xml", "<password>${env.PASSWORD}</password>\n"),
    ("app/config.yml", 'password: "changeme"\n'),
    ("src/app.py", 'password = "sunshineorchard"\n'),  # the config-file rule (words count) does not run in code
    ("web/login.js", "client.login('ann', password);\n"),
    ("web/login.js", "client.login('ann', 'password');\n"),
    ("main.go", 'port := getEnv("PORT", "8080")\n'),
    ("App.kt", 'val url = System.getenv("DATABASE_URL") ?: "postgres://localhost/dev"\n'),
    ("docker-compose.yml", "      PORT: ${PORT:-8080}\n"),
    ("docker-compose.yml", "      POSTGRES_PASSWORD: ${DB_PASSWORD:-changeme}\n"),
    ("build.sh", 'echo "${BYPASS_CACHE:-false}"\n'),
    ("deploy.sh", "mysql -u root -p$DB_PASS app\n"),
    ("deploy.sh", "mysql -p -u root app\n"),
    ("deploy.sh", 'curl -u "$USER:$PASS" https://h\n'),
    ("Db.cs", 'var c = "Server=x;User ID=sa;Password={0};";\n'),
    ("app.py", 'url = f"https://h/?password={pw}"\n'),
    ("redis/client.py", "unix://[username@]/path/to/socket.sock?db=0[&password=password]\n"),
    ("Dockerfile", "ENV DB_PASSWORD $DB_PASSWORD\n"),
    ("Dockerfile", "ARG NPM_TOKEN\n"),
    ("test/test_netrc.py", '"machine host.domain.com login log password pass account acct"\n'),
]


def test_every_rule_has_a_positive_case() -> None:
    covered = {id(_rule(prefix)) for prefix, *_ in POSITIVE}
    missing = [r.id for r in RULES.values() if id(r) not in covered]
    assert not missing


@pytest.mark.parametrize(("prefix", "path", "text", "value", "rule_id"), POSITIVE,
                         ids=[f"{i}:{c[4]}" for i, c in enumerate(POSITIVE)])
def test_rule_reports_the_exact_value(prefix: str, path: str, text: str, value: str, rule_id: str) -> None:
    data = text.format(v=value).encode()
    hits = DETECTOR.scan_blob(data, path)
    assert (rule_id, sha256_hex(value)) in {(h.rule, h.secret_sha256) for h in hits}, (rule_id, hits)
    values = DETECTOR.values(data, path)
    assert values[sha256_hex(value)].reveal() == value
    rule = _rule(prefix)
    assert any(m.group(rule.secret_group) == value.encode() for m in rule.compiled.finditer(data))


@pytest.mark.parametrize(("path", "text"), NEGATIVE, ids=range(len(NEGATIVE)))
def test_negatives_are_not_reported(path: str, text: str) -> None:
    assert DETECTOR.scan_blob(text.encode(), path) == []


def test_credential_file_rules_without_keywords_only_run_at_their_paths() -> None:
    for rule in CREDENTIAL_FILE_RULES:
        assert rule.keywords or rule.hs_patterns or rule.paths, rule.id
    value = _word()
    assert DETECTOR.scan_blob(f"db.internal:5432:app:svc:{value}\n".encode(), "notes/pg.txt") == []


def test_gcp_service_account_json_private_key_is_found_as_it_sits() -> None:
    """The key inside a service-account JSON is one line with escaped newlines: the value is the key itself
    (its hash), and what the plan replaces is that escaped text (decoding: JSON string escapes)."""
    body = base64.b64encode(RNG.randbytes(600)).decode()
    dashes = "-" * 5
    key = "\n".join([f"{dashes}BEGIN PRIVATE KEY{dashes}", *(body[i:i + 64] for i in range(0, len(body), 64)),
                     f"{dashes}END PRIVATE KEY{dashes}"]) + "\n"
    doc = json.dumps({"type": "service_account", "private_key": key, "client_email": "ci@p.iam.example"})
    hits = DETECTOR.scan_blob(doc.encode(), "keys/sa.json")
    assert ("private-key.block", sha256_hex(key.rstrip("\n"))) in {(h.rule, h.secret_sha256) for h in hits}
    # Docker's "auth" and FileZilla's base64 <Pass> are decoding sites (tests/test_decode.py): the decoded password.
