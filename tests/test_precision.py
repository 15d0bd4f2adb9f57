"""Precision: the shapes that are not secrets are not reported, and the plan's default purges what matters.

The false-positive shapes are the ones measured on pallets/flask's history (a jinja2 lexer's
``TOKEN_* = '…'``, html5lib's ``tokenType = "Characters"``, a ``redis://[:password]@`` usage text,
a username read as a password); each has a positive twin with a generated value that must still be
reported, so a filter that drops everything fails here. Values are generated at run time.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.purge.plan import load_plan, make_plan
from sanitize.scan.detectors import Detector
from sanitize.scan.engine import scan_repository
from sanitize.secret import sha256_hex

ALNUM = string.ascii_letters + string.digits


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def generated(rng: random.Random, n: int = 28) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n - 2)) + rng.choice(string.digits) + rng.choice("xyz")


def found(detector: Detector, path: str, text: str) -> set[str]:
    return {h.secret_sha256 for h in detector.scan_blob(text.encode("utf-8"), path) if h.kind == "content"}


# --- shapes that are not secrets -------------------------------------------------------------------------

LEXER = """\
TOKEN_BLOCK_BEGIN = 'begin of statement block'
TOKEN_NAME = 'name'
TOKEN_VARIABLE_END = intern('variable_end')
token_descriptions = {
    TOKEN_COMMENT_BEGIN:        'begin of comment',
    TOKEN_DATA:                 'template data / text',
}
"""


def test_no_lexer_token_kind_constant(detector: Detector) -> None:
    assert found(detector, "jinja2/lexer.py", LEXER) == set()
    assert found(detector, "jinja2/lexer.py", "        token = 'block_begin'\n") == set()


def test_a_machine_made_value_under_a_token_kind_name_is_still_reported(detector: Detector) -> None:
    value = generated(random.Random(1))
    assert found(detector, "app/lexer.py", f"TOKEN_ADMIN = '{value}'\n") == {sha256_hex(value)}


def test_no_camel_case_type_or_label_name(detector: Detector) -> None:
    text = ('            tokenType = "Characters"\n'
            '            tokenType = "SpaceCharacters"\n'
            '    passwordLabel = "Enter your password"\n'
            '    PASSWORD_PLACEHOLDER = "Your password here"\n')
    assert found(detector, "html5lib/tokenizer.py", text) == set()


def test_no_form_label_as_a_value(detector: Detector) -> None:
    text = ('password = "Enter your password"\n'
            'labels = {"password": "Password:", "token": "Your API token"}\n'
            'secret: "Secret question"\n')
    assert found(detector, "app/forms.py", text) == set()
    assert found(detector, "app/forms.yml", 'secret: "Secret question"\n') == set()


def test_no_username_reported_as_a_password(detector: Detector) -> None:
    rng = random.Random(2)
    user = "".join(rng.choice(string.ascii_lowercase) for _ in range(6)) + "_s"
    assert found(detector, "app/__init__.py", f'username,password = "{user}","{generated(rng, 8)}"\n') == set()
    # The keyword-argument form names each value: the password is reported, the username is not.
    pw = generated(rng)
    assert found(detector, "app/db.py", f'connect(user="{user}", password="{pw}")\n') == {sha256_hex(pw)}


def test_no_reference_to_a_variable(detector: Detector) -> None:
    text = ('SECRET_KEY = "settings.SECRET_KEY"\n'
            'password = "DB_PASSWORD"\n'
            'token = "%GITHUB_TOKEN%"\n'
            'api_key = "self.config.api_key"\n'
            'JWT_SECRET = "${JWT_SECRET}"\n')
    assert found(detector, "app/conf.py", text) == set()
    assert found(detector, "conf/app.yml", "password: DATABASE_PASSWORD\n") == set()


def test_no_placeholder(detector: Detector) -> None:
    rng = random.Random(3)
    tail = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(6))
    text = (f'PAYMENT_API_KEY = "pk_test_DEMO_KEY_DO_NOT_USE_{tail}"\n'
            f'app.secret_key = "secret_key"\n'
            f'API_TOKEN = "fake_token_{tail}"\n')
    assert found(detector, "src/payment.py", text) == set()


@pytest.mark.parametrize("url", [
    "redis://[:password]@localhost:6379/0",
    "http://\\xfcser:p\\xe4ssword@\\u2603.net/p\\xe5th",
    "http://%C3%BCser:p%C3%A4ssword@xn--n3h.net/p%C3%A5th",
    "http://üser:pässword@☃.net/påth",
    "postgresql://user:<password>@localhost/db",
    "mysql://app:{password}@db/app",
])
def test_no_template_or_docstring_placeholder_in_a_url(detector: Detector, url: str) -> None:
    text = f'def connect(url):\n    """Connect, e.g. ``{url}``."""\n    x = "{url}"\n'
    assert found(detector, "redis/client.py", text) == set()


def test_a_real_password_in_a_dsn_is_still_reported(detector: Detector) -> None:
    pw = generated(random.Random(4))
    assert found(detector, "app/config.py", f'redis_url = "redis://svc:{pw}@cache.internal:6379"\n') \
        == {sha256_hex(pw)}


def test_a_jwt_must_decode_to_json(detector: Detector) -> None:
    import base64

    rng = random.Random(5)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": generated(rng, 10)}).encode())
    sig = b64(rng.randbytes(32))
    token = f"{header}.{payload}.{sig}"
    assert sha256_hex(token) in found(detector, "app/auth.py", f'bearer = "{token}"\n')
    # A signed payload that is not a JWT (itsdangerous' payload.signature): the 2nd part is no JSON.
    signed = f"{payload}.{b64(rng.randbytes(20))}"
    assert found(detector, "pkg/METADATA", f"# {signed}\n") == set()


# --- the plan's default decision, per context ------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


class Repo:
    """One repository with a secret in each context class, generic and provider-format."""

    def __init__(self, root: Path, seed: int = 31) -> None:
        rng = random.Random(seed)
        words = ["amber", "lantern", "orchid", "granite", "willow", "harbor"]
        self.word = {k: f"{rng.choice(words)}-{rng.choice(words)}-{n}"
                     for n, k in enumerate(("test", "docs", "example", "vendored", "source"))}
        self.gen = {k: generated(rng, 32) for k in ("example", "shared")}
        self.gh = "gh" + "p_" + "".join(rng.choice(ALNUM) for _ in range(36))
        self.path = root / "repo"
        git.run(["init", "-q", "-b", "main", str(self.path)])
        files = {
            "tests/test_app.py": f'app.secret_key = "{self.word["test"]}"\nGH_TOKEN = "{self.gh}"\n',
            "docs/config.rst": f"Example::\n\n    SECRET_KEY = '{self.word['docs']}'\n",
            "examples/blog/app.py": (f'app.secret_key = "{self.word["example"]}"\n'
                                     f'API_KEY = "{self.gen["example"]}"\n'),
            "vendor/lib/conf.py": f'SECRET_KEY = "{self.word["vendored"]}"\n',
            "app/settings.py": (f'SECRET_KEY = "{self.word["source"]}"\n'
                                f'SIGNING_KEY = "{self.gen["shared"]}"\n'),
            "tests/test_signing.py": f'SIGNING_KEY = "{self.gen["shared"]}"\n',  # also in source: purged
        }
        for name, text in files.items():
            p = self.path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        git.run(["add", "-A"], cwd=self.path)
        git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "app"], cwd=self.path)

    def sha(self, value: str) -> str:
        return sha256_hex(value)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def _scan(repo: Repo, dest: Path) -> Path:
    dest.write_text(scan_repository(str(repo.path), jobs=1).to_json(), encoding="utf-8")
    return dest


def test_default_plan_purges_source_and_provider_tokens_and_holds_back_low_confidence(repo: Repo,
                                                                                     tmp_path: Path) -> None:
    plan = make_plan(str(_scan(repo, tmp_path / "findings.json")), str(tmp_path / "p" / "plan.json"))
    planned = plan.planned_sha256s
    held = {h["secret_sha256"]: h for h in [h.dump() for h in plan.held_back]}
    # Purged by default: anything in source, a provider token in a test, a machine-made key in an example,
    # and a test value that also sits in source (a value is replaced everywhere or nowhere).
    for value in (repo.word["source"], repo.gh, repo.gen["example"], repo.gen["shared"]):
        assert repo.sha(value) in planned and repo.sha(value) not in held
    # Held back for review: chosen words in tests, docs, examples and vendored code.
    for where in ("test", "docs", "example", "vendored"):
        sha = repo.sha(repo.word[where])
        assert sha not in planned and held[sha]["contexts"] == [where] and held[sha]["confidence"] == ["low"]
    assert plan.summary.dump()["held_back_values"] == 4
    secrets = plan.secrets_path.read_bytes().decode()
    assert repo.word["test"] not in secrets and repo.gh in secrets
    md = plan.markdown_path.read_text()
    assert "## Held back for review" in md
    for h in held.values():
        assert f"`--include {h['finding_ids'][0]}`" in md and h["include"] == f"--include {h['finding_ids'][0]}"
    assert all(v not in md for v in repo.word.values())  # previews only
    # The decision is part of what reviewers approve: plan.json carries it and load_plan verifies it.
    assert [h.dump() for h in load_plan(plan.path).held_back] == [h.dump() for h in plan.held_back]


def test_include_brings_a_held_back_value_into_the_plan(repo: Repo, tmp_path: Path) -> None:
    findings = _scan(repo, tmp_path / "findings.json")
    default = make_plan(str(findings), str(tmp_path / "a" / "plan.json"))
    target = next(h for h in [h.dump() for h in default.held_back] if h["contexts"] == ["docs"])
    (tmp_path / "b").mkdir()
    proc = _cli("plan", str(findings), "-o", str(tmp_path / "b" / "plan.json"), *target["include"].split())
    assert proc.returncode == 0, proc.stderr
    included = load_plan(tmp_path / "b" / "plan.json")
    assert target["secret_sha256"] in included.planned_sha256s
    assert target["secret_sha256"] not in {h["secret_sha256"] for h in [h.dump() for h in included.held_back]}
    assert included.summary.dump()["included_findings"] == [target["finding_ids"][0]]
    assert included.digest != default.digest
    assert "Included at the reviewer's request" in included.markdown_path.read_text()


def test_include_of_an_unknown_or_planned_finding_is_one_line_and_exit_2(repo: Repo, tmp_path: Path) -> None:
    findings = _scan(repo, tmp_path / "findings.json")
    report = json.loads(findings.read_text())
    planned_id = next(f["id"] for f in report["findings"] if f["secret_sha256"] == repo.sha(repo.gh))
    (tmp_path / "x").mkdir()
    for bad in ("0123456789abcdef", planned_id):
        proc = _cli("plan", str(findings), "-o", str(tmp_path / "x" / "plan.json"), "--include", bad)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"--include {bad}" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "plan.json").exists()


def test_dropped_findings_are_listed_with_the_reason(repo: Repo, tmp_path: Path) -> None:
    findings = _scan(repo, tmp_path / "findings.json")
    report = json.loads(findings.read_text())
    drop_id = next(f["id"] for f in report["findings"] if f["secret_sha256"] == repo.sha(repo.word["source"]))
    plan = make_plan(str(findings), str(tmp_path / "p" / "plan.json"), drop_findings=[drop_id])
    assert repo.sha(repo.word["source"]) not in plan.planned_sha256s
    [entry] = [d.dump() for d in plan.dropped]
    assert entry["finding_id"] == drop_id and entry["context"] == "source" and "false positive" in entry["reason"]
    md = plan.markdown_path.read_text()
    section = md.split("## Dropped as false positives (1)")[1].split("##")[0]
    assert drop_id in section and "app/settings.py" in section and "--drop" in section


def test_rewrite_removes_what_is_planned_and_leaves_what_is_held_back(repo: Repo, tmp_path: Path) -> None:
    findings = _scan(repo, tmp_path / "findings.json")
    make_plan(str(findings), str(tmp_path / "p" / "plan.json"))
    proc = _cli("rewrite", str(tmp_path / "p" / "plan.json"), "--workdir", str(tmp_path / "wd"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mirror = tmp_path / "wd" / "mirror.git"
    text = git.run(["log", "--all", "-p", "--format="], cwd=mirror).stdout.decode()
    assert repo.gh not in text and repo.word["source"] not in text and repo.gen["shared"] not in text
    assert repo.word["docs"] in text and repo.word["test"] in text  # not silently rewritten
    # ... and not silently "clean" either: the rewrite says what is left and why, and gives the second opinion.
    assert re.search(r"the rescan still finds \d+ finding\(s\) of \d+ value\(s\): .*\d+ held back for review",
                     proc.stdout), proc.stdout
    assert "second opinion: gitleaks" in proc.stdout
    report = json.loads((tmp_path / "wd" / "rewrite-report.json").read_text())
    remaining = report["verification"]["rescan"]["remaining"]
    assert remaining["planned"]["count"] == 0 and remaining["held_back"]["values"] >= 2
    assert all(repo.word["docs"] not in json.dumps(g) for g in remaining.values())  # hashes and previews only


def test_findings_files_without_context_get_the_same_default(repo: Repo, tmp_path: Path) -> None:
    """A findings file from before the scan recorded context: the plan derives it the same way."""
    findings = _scan(repo, tmp_path / "findings.json")
    doc = json.loads(findings.read_text())
    for f in doc["findings"]:
        f.pop("context"), f.pop("confidence")
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(doc))
    with_ctx = make_plan(str(findings), str(tmp_path / "a" / "plan.json"))
    without = make_plan(str(bare), str(tmp_path / "b" / "plan.json"))
    assert without.planned_sha256s == with_ctx.planned_sha256s
    assert without.held_back == with_ctx.held_back


@pytest.mark.parametrize("url", [
    "postgresql://scott:tiger@localhost/test",
    "amqp://guest:guest@localhost:5672//",
    "postgres://postgres:postgres@127.0.0.1:5432/app",
    "redis://[[username]:[password]]@localhost:6379/0",
])
def test_no_stock_documentation_login_in_a_dsn(detector: Detector, url: str) -> None:
    assert found(detector, "lib/engine.py", f'engine = create_engine("{url}")\n') == set()


def test_a_random_value_under_a_bare_token_name_is_reported(detector: Detector) -> None:
    """Random mixed-case letters are not words, and a random dotted token is not a variable reference."""
    rng = random.Random(6)
    letters = "".join(rng.choice(string.ascii_letters) for _ in range(34))
    dotted = f"{generated(rng, 14)}.{generated(rng, 8)}.{generated(rng, 40)}"
    text = f'TOKEN = "xy_{letters}"\ntoken = "{dotted}"\n'
    assert found(detector, "app/hub.py", text) == {sha256_hex(f"xy_{letters}"), sha256_hex(dotted)}


@pytest.mark.parametrize(("value", "guessable"), [
    ("testkey", True), ("super-secret-key", True), ("admin123", True), ("ThisIsMySecretKey", True),
    ("development key", True), ("hunter2", False), ("123456", False),
])
def test_stand_in_word_values_are_guessable(value: str, guessable: bool) -> None:
    from sanitize.scan.rules import is_word_salad

    assert is_word_salad(value) is guessable
    rng = random.Random(value)
    assert not is_word_salad(generated(rng, 24))  # a random value never is


@pytest.mark.parametrize(("path", "ctx"), [
    ("notes.txt", "source"), ("deploy/passwords.txt", "source"), ("docs/notes.txt", "docs"),
    ("flask-docs/_sources/config.rst.txt", "docs"), ("README.txt", "docs"),
])
def test_text_files_are_where_credentials_are_kept_unless_they_are_docs(path: str, ctx: str) -> None:
    from sanitize.scan import context

    assert context.classify(path) == ctx


def test_a_guessable_default_in_source_is_held_back_not_rewritten(tmp_path: Path) -> None:
    rng = random.Random(12)
    real = generated(rng, 32)
    r = tmp_path / "app"
    git.run(["init", "-q", "-b", "main", str(r)])
    (r / "settings.py").write_text(f'SECRET_KEY = "super-secret-key"\nAPI_TOKEN = "{real}"\n')
    git.run(["add", "."], cwd=r)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "settings"], cwd=r)
    findings = tmp_path / "findings.json"
    findings.write_text(scan_repository(str(r)).to_json())
    plan = make_plan(str(findings), str(tmp_path / "p" / "plan.json"))
    assert sha256_hex(real) in plan.planned_sha256s
    held = {h["secret_sha256"]: h for h in [h.dump() for h in plan.held_back]}
    stand_in = sha256_hex("super-secret-key")
    assert stand_in in held and "guessable stand-in" in held[stand_in]["reason"]
