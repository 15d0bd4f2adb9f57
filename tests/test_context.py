"""Context and confidence: every finding says where it lives and how sure the scan is.

Values are generated at run time from a seed; no literal token is written here.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from sanitize import git
from sanitize.scan import context
from sanitize.scan.engine import scan_repository
from sanitize.scan.formats import render
from sanitize.scan.report import Finding
from sanitize.secret import sha256_hex

ALNUM = string.ascii_letters + string.digits


def generated(rng: random.Random, n: int = 32) -> str:
    """A machine-made value (random letters and digits, always both)."""
    return "".join(rng.choice(ALNUM) for _ in range(n - 2)) + rng.choice(string.digits) + rng.choice("abcdef")


def chosen(rng: random.Random) -> str:
    """A value a person typed: two words joined by a dash (``amber-lantern``)."""
    words = ["amber", "lantern", "orchid", "granite", "willow", "harbor", "copper", "meadow"]
    return f"{rng.choice(words)}-{rng.choice(words)}-{rng.choice(words)}"


# --- the path classifier -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "expected"), [
    ("src/app/settings.py", "source"),
    ("config/production.yml", "source"),
    ("websiteconfig.py", "source"),
    ("data/seed.sql", "source"),
    ("requirements.txt", "source"),
    ("tests/test_auth.py", "test"),
    ("app/test_views.py", "test"),
    ("pkg/server_test.go", "test"),
    ("web/src/login.spec.ts", "test"),
    ("web/src/login.test.jsx", "test"),
    ("spec/models/user_spec.rb", "test"),
    ("flask/testsuite/config.py", "test"),
    ("src/test/java/AuthTest.java", "test"),
    ("tests/fixtures/users.json", "test"),  # a fixture of the test suite is a test
    ("conftest.py", "test"),
    ("docs/config.rst", "docs"),
    ("README.md", "docs"),
    ("guide/deploy.adoc", "docs"),
    ("docs/tutorial/setup.rst", "docs"),
    ("docs/examples/app.py", "docs"),
    ("examples/persona/persona.py", "example"),
    ("samples/client.js", "example"),
    ("fixtures/db.yml", "example"),
    ("config/settings.py.example", "example"),
    ("example_config.yml", "example"),
    ("vendor/github.com/lib/pq/conn.go", "vendored"),
    ("web/node_modules/left-pad/index.js", "vendored"),
    ("third_party/zlib/zconf.h", "vendored"),
    ("examples/app/venv/lib/python2.7/site-packages/jinja2/lexer.py", "vendored"),
    ("venv/lib/python3.10/site-packages/pkg-2.2.0.dist-info/METADATA", "vendored"),
    ("static/js/app.min.js", "generated"),
    ("dist/bundle.js", "generated"),
    ("package-lock.json", "generated"),
    ("poetry.lock", "generated"),
    ("go.sum", "generated"),
])
def test_context_of_a_path(path: str, expected: str) -> None:
    assert context.classify(path) == expected


def test_a_message_has_source_context() -> None:
    assert context.classify(None) == "source" and context.classify("") == "source"


# --- confidence ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", context.CONTEXTS)
def test_provider_formats_and_private_keys_are_high_everywhere(where: str) -> None:
    for rule in ("github.token", "aws.access-key", "private-key.block", "path.private-key", "dsn.password",
                 "ds.SlackDetector"):
        assert context.confidence(rule, where, generated_value=False) == "high"


def test_generic_assignments_are_lower_and_lowest_in_tests_docs_and_vendored_code() -> None:
    for rule in ("default.secret-key", "keyword.password"):
        assert context.confidence(rule, "source", generated_value=True) == "medium"
        assert context.confidence(rule, "source", generated_value=False) == "low"
        assert context.confidence(rule, "example", generated_value=True) == "medium"
        assert context.confidence(rule, "example", generated_value=False) == "low"
        for where in ("test", "docs", "vendored"):
            assert context.confidence(rule, where, generated_value=True) == "low"


def test_held_for_review_only_low_confidence_outside_source() -> None:
    assert context.held_for_review("test", "low")
    assert context.held_for_review("vendored", "low")
    assert not context.held_for_review("source", "low")
    assert not context.held_for_review("generated", "low")
    assert not context.held_for_review("test", "high")
    assert not context.held_for_review("example", "medium")


def test_looks_generated_tells_machine_made_values_from_words() -> None:
    rng = random.Random(3)
    for _ in range(50):
        assert context.looks_generated(generated(rng))
        assert context.looks_generated(rng.randbytes(16).hex())
        assert not context.looks_generated(chosen(rng))
    assert not context.looks_generated("development key")
    assert not context.looks_generated(generated(rng, 12))  # too short to tell


def test_docstring_spans_cover_docstrings_not_assigned_strings() -> None:
    rng = random.Random(4)
    doc_value, data_value = generated(rng), generated(rng)
    src = (f'def configure():\n    """Set it like this::\n\n        SECRET_KEY = "{doc_value}"\n    """\n'
           f'TEMPLATE = """\nSECRET_KEY = "{data_value}"\n"""\n').encode()
    spans = context.docstring_spans(src)
    assert context.only_in_spans(src, doc_value, spans)
    assert not context.only_in_spans(src, data_value, spans)  # a config template may hold a real value


# --- on a real repository --------------------------------------------------------------------------------

def _commit(repo: Path, files: dict[str, str], msg: str = "add") -> None:
    for name, text in files.items():
        p = repo / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    git.run(["add", "-A"], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", msg], cwd=repo)


def test_scan_records_context_and_confidence_on_every_finding(tmp_path: Path) -> None:
    rng = random.Random(21)
    gh = "gh" + "p_" + "".join(rng.choice(ALNUM) for _ in range(36))
    values = {name: generated(rng) for name in ("src", "test", "docs", "vendor", "min")}
    words = {name: chosen(rng) for name in ("example", "docstring")}
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    _commit(repo, {
        "app/settings.py": f'SECRET_KEY = "{values["src"]}"\n',
        "tests/test_login.py": f'API_KEY = "{values["test"]}"\nGH = "{gh}"\n',
        "docs/config.rst": f"Set it::\n\n    SECRET_KEY = '{values['docs']}'\n",
        "vendor/lib/client.go": f'const apiToken = "{values["vendor"]}"\n',
        "static/app.min.js": f'var API_KEY="{values["min"]}";\n',
        "examples/demo/app.py": f'app.secret_key = "{words["example"]}"\n',
        "app/config.py": f'def load():\n    """Example::\n\n        SECRET_KEY = "{words["docstring"]}"\n    """\n',
    })
    report = scan_repository(str(repo), jobs=1)
    by_sha = {f.secret_sha256: f for f in report.findings}
    expect = {
        values["src"]: ("source", "medium"), values["test"]: ("test", "low"), values["docs"]: ("docs", "low"),
        values["vendor"]: ("vendored", "low"), values["min"]: ("generated", "medium"),
        words["example"]: ("example", "low"), words["docstring"]: ("docs", "low"), gh: ("test", "high"),
    }
    for value, (ctx, conf) in expect.items():
        f = by_sha[sha256_hex(value)]
        assert (f.context, f.confidence) == (ctx, conf), f.path
    assert all(f.context in context.CONTEXTS and f.confidence in context.CONFIDENCES for f in report.findings)
    doc = json.loads(report.to_json())
    assert all(d["context"] and d["confidence"] for d in doc["findings"])
    text = render(report, "text")
    assert "[content, test, high]" in text and "[content, vendored, low]" in text
    md = render(report, "markdown")
    assert "Distinct secrets by context/confidence:" in md and "test, high" in md
    sarif = json.loads(render(report, "sarif"))
    props = [r["properties"] for r in sarif["runs"][0]["results"]]
    assert {(p["context"], p["confidence"]) for p in props} >= {("test", "high"), ("vendored", "low")}


def test_findings_without_context_omit_the_fields() -> None:
    f = Finding("dsn.password", "content", "a.yml", "b" * 40, "c" * 40, 1, "d" * 64, "ab…")
    d = f.to_dict(0)
    assert "context" not in d and "confidence" not in d
    g = Finding.from_dict({**d, "context": "test", "confidence": "low"}, [()])
    assert (g.context, g.confidence) == ("test", "low") and g.id == f.id  # the id does not depend on them
