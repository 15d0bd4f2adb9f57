"""Every built-in rule with a case it must catch, and the decoys no rule may report.

Sample secrets are built at run time (concatenation + a seeded RNG) so the
repository never holds a token-shaped literal.
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest

from sanitize.errors import UsageError
from sanitize.scan.detectors import Detector
from sanitize.scan.rules import (
    BUILTIN_CONTENT_RULES,
    BUILTIN_PATH_RULES,
    CONFIG_PASSWORD_RULE,
    CREDENTIAL_FILE_RULES,
    ENV_DEFAULT_RULES,
    INLINE_PASSWORD_RULES,
    LOGIN_CALL_RULE,
    TOKEN_RULES,
    ContentRule,
    is_placeholder,
    load_custom_rules,
)
from sanitize.secret import sha256_hex

RNG = random.Random(4242)
ALNUM = string.ascii_letters + string.digits


def _r(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _pw(n: int = 20) -> str:
    return _r(string.ascii_uppercase, 2) + _r(string.ascii_lowercase, 2) + _r(ALNUM, n - 6) + _r(string.digits, 2)


def _pem(label: str) -> str:
    body = base64.b64encode(RNG.randbytes(300)).decode()
    dashes = "-" * 5
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"{dashes}BEGIN {label}{dashes}", *lines, f"{dashes}END {label}{dashes}"])


def _samples() -> dict[int, list[tuple[str, str, str]]]:
    """Rule index → [(text, secret value, reported rule id)]: one or more per built-in rule.

    Provider token formats (``token.*``) are generated from their own templates in test_provider_rules.py.
    """
    pem = _pem("RSA PRIVATE" + " KEY")
    pws = [_pw() for _ in range(14)]
    bearer = _r(ALNUM, 40)
    by_desc = {r.description: i for i, r in enumerate(BUILTIN_CONTENT_RULES)}

    def idx(prefix: str) -> int:
        (i,) = [i for d, i in by_desc.items() if d.startswith(prefix)]
        return i

    return {
        idx("A PEM"): [(f"key = '''\n{pem}\n'''\n", pem, "private-key.block")],
        idx("The password inside"): [
            (f"url: postgresql://app:{pws[0]}@db.internal:5432/x\n", pws[0], "dsn.password"),
            (f"url: postgres://app:{pws[1]}@db/x\n", pws[1], "dsn.password"),
            (f'DB = "mysql://root:{pws[2]}@10.0.0.1/x"\n', pws[2], "dsn.password"),
            (f"cache: redis://:{pws[3]}@cache:6379/0\n", pws[3], "dsn.password"),
            (f"uri = 'mongodb+srv://svc:{pws[4]}@cluster0.example.net/app'\n", pws[4], "dsn.password"),
            (f"broker: amqps://w:{pws[5]}@mq:5671//\n", pws[5], "dsn.password"),
        ],
        idx("A bearer token"): [(f'curl -H "Authorization: Bearer {bearer}" https://api.test/v1\n', bearer,
                                 "curl.bearer")],
        idx("A hardcoded fallback: process.env"): [
            (f'const JWT_SECRET = process.env.JWT_SECRET || "{pws[6]}";\n', pws[6], "default.jwt-secret"),
            (f"const k = process.env.API_KEY ?? '{pws[7]}';\n", pws[7], "default.api-key"),
        ],
        idx("A hardcoded fallback: os.getenv"): [
            (f'SECRET_KEY = os.getenv("DJANGO_SECRET_KEY", "{pws[8]}")\n', pws[8], "default.django-secret-key"),
        ],
        idx("A credential constant"): [(f'const ADMIN_PASSWORD = "{pws[9]}";\n', pws[9], "default.admin-password")],
        idx("A credential in env/shell"): [(f"export JWT_SECRET={pws[10]}\n", pws[10], "default.jwt-secret")],
        idx("A quoted literal"): [(f'db_password = "{pws[11]}"\n', pws[11], "keyword.password")],
        idx("An unquoted"): [(f"production:\n  password: {pws[12]}\n", pws[12], "keyword.password"),
                             (f"[client]\nauth_token = {pws[13]}  # rotated yearly\n", pws[13], "keyword.token")],
    }


SAMPLES = _samples()
# Provider formats and credential-file/env-fallback rules have their own case tables
# (test_provider_rules.py, test_credential_rules.py).
_OWN_TABLES = {id(r) for r in (*TOKEN_RULES, *CREDENTIAL_FILE_RULES, *ENV_DEFAULT_RULES, LOGIN_CALL_RULE,
                               *INLINE_PASSWORD_RULES, CONFIG_PASSWORD_RULE)}
GENERIC = [i for i, r in enumerate(BUILTIN_CONTENT_RULES) if id(r) not in _OWN_TABLES]


def test_every_builtin_content_rule_has_a_case() -> None:
    assert set(SAMPLES) == set(GENERIC)


@pytest.mark.parametrize("index", GENERIC, ids=[f"{i}:{BUILTIN_CONTENT_RULES[i].id}" for i in GENERIC])
def test_builtin_rule_catches_its_case(index: int) -> None:
    rule = BUILTIN_CONTENT_RULES[index]
    detector = Detector(use_plugins=False)
    for text, value, rule_id in SAMPLES[index]:
        direct = [m for m in rule.compiled.finditer(text.encode()) if rule.accepts(m, m.group(rule.secret_group)
                                                                               .decode())]
        assert direct, (rule.id, text)
        hits = detector.scan_blob(text.encode(), "config/sample.yml" if rule.paths else "src/sample.txt")
        assert (rule_id, sha256_hex(value)) in {(h.rule, h.secret_sha256) for h in hits}, (rule.id, hits)


DECOYS = [
    "AWS_ACCESS_KEY_ID=" + "AK" + "IA" + "IOSFODNN7" + "EXAMPLE\n",
    "AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY\n",
    "DATABASE_URL=postgresql://user:password@localhost:5432/app\n",
    "ADMIN_PASSWORD=<your-password>\n",
    "JWT_SECRET=${JWT_SECRET}\n",
    "vault_token: {{ vault_token }}\n",
    'password: "{{ .Values.db.password }}"\n',
    "JWT_SECRET=changeme\n",
    'const ADMIN_PASSWORD = "password";\n',
    'db_password = "example-password"\n',
    'export const PORT = process.env.PORT || "3000";\n',
    "mysql://root:${MYSQL_ROOT_PASSWORD}@db/app\n",
    "redis://:<password>@cache:6379\n",
    'curl -H "Authorization: Bearer $TOKEN" https://api.test\n',
    'curl -H "Authorization: Bearer <your-token>" https://api.test\n',
    '"integrity": "sha512-' + base64.b64encode(random.Random(1).randbytes(64)).decode() + '"\n',
    "id = 5f0c3a8e-9d7b-4c1e-8a2f-3b6d9e0f1a2c\n",
    "- " + "".join(random.Random(2).choice("0123456789abcdef") for _ in range(40)) + " fix flaky test\n",
    'token = get_token()\n',
    'SECRET_KEY = os.environ["SECRET_KEY"]\n',
    "-----BEGIN " + "PRIVATE KEY-----\n...\n-----END " + "PRIVATE KEY-----\n",
    "sk-learn and scikit-learn are the same project\n",
    "NO_ETC_PASSWD = YesPlease\n",
    "export GIT_TEST_CREDENTIAL_HELPER=store\n",
    "JWT_SECRET_FILE=/run/secrets/jwt\n",
    'const TOKEN_TTL = "3600s";\n',
    'const JWT_SECRET = process.env.JWT_SECRET || "***REMOVED***";\n',  # after a rewrite
    "url: postgresql://aurora_app:***REMOVED***@db.aurora.internal:5432/aurora\n",
    # Plain words in generic fields: replacing "address" in every file of history would damage the code.
    "token_type = 'header'\n",
    'api_token = "address"\n',
    'secret_name = "mailbox"\n',
    "auth_token: bearer\n",
]


@pytest.mark.parametrize("text", DECOYS, ids=range(len(DECOYS)))
def test_decoys_are_not_reported(text: str) -> None:
    assert Detector().scan_blob(text.encode(), "docs/setup.md") == []
    assert Detector().scan_blob(text.encode(), "config/settings.yml") == []


@pytest.mark.parametrize("value", ["P4$$word", "hunter2hunter2", "correcthorsebatterystaple"])
def test_generic_fields_still_report_password_like_values(value: str) -> None:
    hits = Detector().scan_blob(f'password = "{value}"\n'.encode(), "app/settings.py")
    assert [h.rule for h in hits] == ["keyword.password"]


def test_unquoted_config_values_only_count_in_config_files() -> None:
    text = f"password: {_pw()}\n".encode()
    assert [h.rule for h in Detector().scan_blob(text, "deploy/values.yaml")] == ["keyword.password"]
    assert Detector().scan_blob(text, "src/app.py") == []
    for line in ("password: self.password", "token: tokens[0]", "secret: ${SECRET}", "api_key: {{ key }}",
                 "password: <your-password>", "token_type: bearer", "password: changeme"):
        assert Detector().scan_blob(f"{line}\n".encode(), "config/app.yml") == [], line
    crlf = f"[db]\r\npassword = {(value := _pw())}\r\n".encode()
    assert [(h.rule, h.secret_sha256) for h in Detector().scan_blob(crlf, "app.ini")] == \
        [("keyword.password", sha256_hex(value))]


def test_binary_blobs_are_skipped_but_path_rules_still_apply() -> None:
    token = "gh" + "p_" + _r(ALNUM, 36)
    data = b"\x89PNG\r\n\x1a\n\x00" + token.encode() + b"\x00"
    assert Detector().scan_blob(data, "assets/logo.png") == []
    hits = Detector().scan_blob(data, "certs/client.p12")
    assert [h.rule for h in hits] == ["path.private-key"] and hits[0].secret_sha256 == sha256_hex(data)


@pytest.mark.parametrize(("path", "content", "rule"), [
    (".ssl/key.pem", _pem("PRIVATE" + " KEY") + "\n", "path.private-key"),
    ("deploy/id_rsa", _pem("OPENSSH PRIVATE" + " KEY") + "\n", "path.private-key"),
    ("certs/server.key", _pem("EC PRIVATE" + " KEY") + "\n", "path.private-key"),
    ("android/release.jks", "\x00\x01binary keystore\x00", "path.private-key"),
    ("keys/server.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n" + _r(ALNUM, 44) + "\n",
     "path.private-key"),
    (".env", "JWT_SECRET=" + _r(ALNUM, 24) + "\n", "path.dotenv"),
    (".env.production", "API_URL=https://api.test\nSESSION_KEY=" + _r(ALNUM, 24) + "\n", "path.dotenv"),
    ("chat/log.json", '{"messages": [{"role": "user", "password": "' + _pw() + '"}]}', "path.credential-json"),
    ("chat/log.jsonl", '{"text": "hi"}\n{"token": "' + _r(ALNUM, 30) + '"}\n', "path.credential-json"),
])
def test_path_rules(path: str, content: str, rule: str) -> None:
    hits = Detector().scan_blob(content.encode(), path)
    assert hits and hits[0].rule == rule and hits[0].kind == "path"
    assert hits[0].secret_sha256 == sha256_hex(content.encode()) and hits[0].line is None


@pytest.mark.parametrize(("path", "content"), [
    (".ssl/cert.pem", _pem("CERTIFICATE") + "\n"),
    ("keys/deploy.key.pub", "ssh-ed25519 AAAAC3Nza" + _r(ALNUM, 40) + " ci@test\n"),
    (".env.example", "JWT_SECRET=changeme\nADMIN_PASSWORD=<your-password>\nDATABASE_URL=${DATABASE_URL}\n"),
    (".env.sample", "JWT_SECRET=\n"),
    (".env", "# nothing set yet\nJWT_SECRET=\n"),
    ("package.json", '{"name": "aurora", "version": "1.0.0", "scripts": {"test": "jest"}}'),
    ("config/tokens.json", '{"max_tokens": 100, "token_type": "bearer", "password": "<your-password>"}'),
])
def test_path_rule_decoys(path: str, content: str) -> None:
    assert Detector().scan_blob(content.encode(), path) == []


def test_placeholders() -> None:
    for v in ("changeme", "<your-password>", "${DB_PASSWORD}", "{{ token }}", "your_api_key_here", "xxxxxxxx",
              "EXAMPLEKEY123", "$SECRET", "5f0c3a8e-9d7b-4c1e-8a2f-3b6d9e0f1a2c", "abcdefgh"):
        assert is_placeholder(v), v
    assert not is_placeholder(_pw())


def test_rule_ids_are_stable_strings() -> None:
    ids = [r.id for r in BUILTIN_PATH_RULES]
    assert ids == ["path.private-key", "path.dotenv", "path.credential-json"]
    assert all("." in r.id for r in BUILTIN_CONTENT_RULES)


def test_custom_rules_yaml_and_toml(tmp_path: Path) -> None:
    value = "acme_" + _r(ALNUM, 24)
    yml = tmp_path / "rules.yml"
    yml.write_text("- id: acme.token\n  regex: '(acme_[A-Za-z0-9]{24})'\n  keywords: [acme_]\n  secret_group: 1\n")
    toml = tmp_path / "rules.toml"
    toml.write_text("[[rules]]\nid = \"acme.token\"\nregex = 'key=(?P<v>acme_[A-Za-z0-9]{24})'\n"
                    "secret_group = \"v\"\n")
    for f in (yml, toml):
        rules = load_custom_rules(f)
        hits = Detector(rules).scan_blob(f"key={value}\n".encode(), "app/settings.cfg")
        assert ("acme.token", sha256_hex(value)) in {(h.rule, h.secret_sha256) for h in hits}


def test_a_path_rule_from_the_rules_file_fires_in_a_real_scan_and_the_plan_deletes_the_file(tmp_path: Path) -> None:
    """Path rules are data: a team's new one (a kubeconfig, whatever it holds) fires like a built-in one."""
    import json
    import subprocess
    import sys

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "deploy").mkdir()
    (repo / "deploy" / "kubeconfig").write_text("apiVersion: v1\nusers: [{name: ci}]\n")
    (repo / "deploy" / "kubeconfig.md").write_text("how to get one\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm",
                    "deploy"], check=True)
    rules = tmp_path / "rules.yml"
    rules.write_text("- id: path.kubeconfig\n  name: '^kubeconfig$'\n  path: '^deploy/'\n"
                     "  description: a cluster credential file\n")
    findings, plan = tmp_path / "findings.json", tmp_path / "plan.json"
    cli = [sys.executable, "-m", "sanitize.cli"]
    scan = subprocess.run([*cli, "scan", str(repo), "--rules", str(rules), "-o", str(findings)], capture_output=True,
                          text=True, check=False)
    assert scan.returncode == 1, scan.stderr
    hits = [(f["rule"], f["kind"], f["path"]) for f in json.loads(findings.read_text())["findings"]]
    assert hits == [("path.kubeconfig", "path", "deploy/kubeconfig")]
    made = subprocess.run([*cli, "plan", str(findings), "-o", str(plan), "--rules", str(rules)], capture_output=True,
                          text=True, check=False)
    assert made.returncode == 0, made.stderr
    assert [d["path"] for d in json.loads(plan.read_text())["actions"]["delete_paths"]] == ["deploy/kubeconfig"]


def test_a_content_rule_in_the_rules_file_can_be_restricted_to_paths(tmp_path: Path) -> None:
    value = "acme_" + _r(ALNUM, 24)
    f = tmp_path / "rules.yml"
    f.write_text("- id: acme.token\n  regex: '(acme_[A-Za-z0-9]{24})'\n  path: '\\.cfg$'\n")
    detector = Detector(load_custom_rules(f))
    found = {h.rule for h in detector.scan_blob(f"key={value}\n".encode(), "app/settings.cfg")}
    assert "acme.token" in found
    assert "acme.token" not in {h.rule for h in detector.scan_blob(f"key={value}\n".encode(), "app/notes.txt")}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("rules.yml", "- id: x\n  name: '('\n", "invalid path or name regex"),
    ("rules.yml", "- id: x\n  regex: 'ab'\n  name: 'y'\n", "'name' is for path rules"),
    ("rules.yml", "- id: x\n  path: ''\n", "must be non-empty"),
    ("rules.json", "[]", "unknown rules format"),
    ("rules.yml", "- id: x\n  regex: '('\n", "invalid regex"),
    ("rules.yml", "just a string\n", "expected a non-empty list"),
    ("rules.yml", "- id: x\n  regex: 'a(b)'\n  colour: red\n", "unknown keys"),
    ("rules.toml", "[[rules]\n", "not valid TOML"),
    ("rules.yml", "- id: x\n  regex: 'ab'\n  secret_group: 3\n", "no group 3"),
])
def test_bad_rules_files_are_usage_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(UsageError, match=message):
        load_custom_rules(f)


def test_missing_rules_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such rules file"):
        load_custom_rules(tmp_path / "absent.yml")


def test_detect_secrets_plugins_cover_their_formats() -> None:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    jwt = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(b'{"sub":"' + _r(ALNUM, 12).encode() + b'"}') + "." + \
        b64(RNG.randbytes(32))
    basic_pw = _pw()
    text = f"session = '{jwt}'\ngit remote add origin https://deploy:{basic_pw}@git.example.org/app.git\n"
    hits = {(h.rule, h.secret_sha256) for h in Detector().scan_blob(text.encode(), "notes.txt")}
    assert {("ds.JwtTokenDetector", sha256_hex(jwt)), ("token.jwt", sha256_hex(jwt))} & hits
    assert ("ds.BasicAuthDetector", sha256_hex(basic_pw)) in hits



def _shaped_cases() -> list[tuple[ContentRule, str, str, str]]:
    """(rule, path, text, value) for every case of a rule whose prefilter is a shape, not keywords."""
    from tests.test_credential_rules import POSITIVE, _rule

    tokens = {id(t) for t in TOKEN_RULES}
    shaped = [r for r in BUILTIN_CONTENT_RULES if r.hs_patterns and not r.keywords and id(r) not in tokens]
    cases = [(rule, "config/sample.yml" if rule.paths else "src/sample.txt", text, value)
             for i, samples in SAMPLES.items() for rule in [BUILTIN_CONTENT_RULES[i]] if rule in shaped
             for text, value, _rule_id in samples]
    cases += [(_rule(prefix), path, text.format(v=value), value) for prefix, path, text, value, _rule_id in POSITIVE
              if _rule(prefix) in shaped]
    return cases


SHAPED = _shaped_cases()


def test_shaped_prefilters_cover_the_rules_that_run_most() -> None:
    """The generic assignment, env-fallback, DSN and SQL rules wake on a shape (the keyword and the
    assignment or call around it): on pallets/flask that cut the lines their regexes run on from 80,000 to 8,000."""
    assert len({rule.id.split(".")[0] for rule, *_ in SHAPED}) >= 4
    assert len({id(rule) for rule, *_ in SHAPED}) >= 10


@pytest.mark.parametrize(("rule", "path", "text", "value"), SHAPED,
                         ids=[f"{i}:{c[0].id}" for i, c in enumerate(SHAPED)])
def test_a_shaped_prefilter_wakes_its_rule_in_raw_and_json_escaped_text(rule: ContentRule, path: str, text: str,
                                                                        value: str) -> None:
    """A rule with a shape prefilter finds its value as the text sits and inside a JSON string (a
    transcript or notebook: quotes as \\" or \\u0022, line breaks as \\n), where its regex reads the line unescaped."""
    escaped = json.dumps({"output": "log:\n" + text})
    forms = [text, escaped, escaped.replace('\\"', "\\u0022")]
    # A line break where the rule allows space: an assignment or an argument list wrapped in the transcript.
    wrapped = text.replace(" = ", " =\n  ", 1).replace(", ", ",\n  ", 1)
    if wrapped != text and any(m.group(rule.secret_group) == value.encode() for m in rule.compiled.finditer(
            wrapped.encode())):
        forms.append(json.dumps({"output": wrapped}))
    detector = Detector()
    for form in forms:
        hits = detector.scan_blob(form.encode(), path)
        assert sha256_hex(value) in {h.secret_sha256 for h in hits}, (rule.id, form)
