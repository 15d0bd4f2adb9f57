"""Where a finding lives and how sure we are, so a reviewer decides fast.

``context`` says what kind of file holds the finding, from its path alone:
``source`` (code, config and data: the default), ``test``, ``docs``,
``example`` (examples, samples, demos, fixtures), ``vendored`` (third-party
code committed with the project: ``vendor/``, ``node_modules/``, a committed
virtualenv) or ``generated`` (minified bundles, build output, lock files).

``confidence`` comes from the rule family first: a provider-format token, a
private key, a credential file or a connection-string password has a shape
nothing else has (``high``). A generic assignment (``SECRET_KEY = "…"``,
``password: …``) is ``medium`` when its value looks machine-generated and
``low`` when it reads like a chosen word, and ``low`` in tests, docs and
vendored code whatever it holds: there such values are fixtures, illustrations
and other people's defaults far more often than leaks. An example inside a
Python docstring counts as ``docs`` (the scan checks where the value sits).
The plan's default (:mod:`sanitize.purge.plan`) holds back only low-confidence
findings in tests, docs, examples and vendored code.

A new rule family that matches a generic ``name = value`` shape must be added
to :data:`GENERIC_FAMILIES`; any other family is treated as a format of its own.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from sanitize.scan.rules import looks_generated

__all__ = ["ALWAYS_LOW_CONTEXTS", "CONFIDENCES", "CONTEXTS", "REVIEW_CONTEXTS", "classify", "confidence",
           "docstring_spans", "has_docstrings", "held_for_review", "is_generic", "looks_generated", "only_in_spans"]

Context = Literal["source", "test", "docs", "example", "vendored", "generated"]
Confidence = Literal["high", "medium", "low"]
CONTEXTS: tuple[Context, ...] = ("source", "test", "docs", "example", "vendored", "generated")
CONFIDENCES: tuple[Confidence, ...] = ("high", "medium", "low")

#: Contexts whose low-confidence findings the default plan lists for review instead of rewriting.
REVIEW_CONTEXTS: frozenset[str] = frozenset({"test", "docs", "example", "vendored"})

#: Contexts where a generic assignment is low-confidence whatever its value looks like.
ALWAYS_LOW_CONTEXTS: frozenset[str] = frozenset({"test", "docs", "vendored"})

#: Rule families that match a generic name = value shape rather than a format of their own.
GENERIC_FAMILIES: frozenset[str] = frozenset({"default", "keyword", "generic"})

# Directory names, compared case-insensitively against every directory of the path.
_VENDORED_DIRS = frozenset({
    "vendor", "vendors", "vendored", "_vendor", "node_modules", "bower_components", "jspm_packages",
    "third_party", "third-party", "thirdparty", "3rdparty", "site-packages", "dist-packages", "venv", ".venv",
    "virtualenv", ".virtualenv", ".tox", ".nox", "pods", "carthage", ".bundle", "external_libs",
})
_GENERATED_DIRS = frozenset({"dist", "build", "out", "target", ".next", ".nuxt", "__generated__", "generated",
                             "coverage", "htmlcov", "_build", ".cache"})
_TEST_DIRS = frozenset({"test", "tests", "testing", "testsuite", "testsuites", "__tests__", "__test__", "spec",
                        "specs", "testdata", "test_data", "test-data", "e2e", "t"})
_EXAMPLE_DIRS = frozenset({"example", "examples", "sample", "samples", "demo", "demos", "fixture", "fixtures",
                           "__fixtures__", "__mocks__", "mocks", "quickstart"})
_DOCS_DIRS = frozenset({"doc", "docs", "documentation", "man", "manual", "wiki", "tutorial", "tutorials",
                        "_sources"})

_GENERATED_FILES = re.compile(
    r"(?i)(?:\.min\.(?:js|css|mjs)|\.(?:js|css)\.map|[-.]bundle\.js|\.pb\.go|_pb2(?:_grpc)?\.py|\.g\.dart|"
    r"\.generated\.\w+|\.designer\.cs)$|"
    r"^(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|pipfile\.lock|"
    r"cargo\.lock|gemfile\.lock|composer\.lock|go\.sum|pdm\.lock|uv\.lock|flake\.lock|mix\.lock|"
    r"packages\.lock\.json|podfile\.lock)$")
_TEST_FILES = re.compile(
    r"(?i)^(?:test_.+\.py|.+_tests?\.py|conftest\.py|.+_test\.(?:go|rb|exs?|dart|c|cc|cpp|rs)|"
    r".+\.(?:test|spec)\.[cm]?[jt]sx?|.+_spec\.rb|.+(?:Test|Tests|Spec|IT)\.(?:java|kt|scala|groovy|cs|swift|php))$")
_EXAMPLE_FILES = re.compile(r"(?i)^(?:example|sample|demo)s?(?:[._-].*)?$|[._-](?:example|sample|dist|template)$")
# Not .txt: notes.txt, passwords.txt and creds.txt are where incidents keep credentials.
_DOCS_FILES = re.compile(
    r"(?i)\.(?:md|markdown|mdx|rst|adoc|asciidoc|rdoc|pod|tex)(?:\.txt)?$|"  # Sphinx's _sources copies: x.rst.txt
    r"^(?:readme|changelog|changes|history|contributing|authors|news)(?:\.\w+)?$")


@lru_cache(maxsize=65536)  # a pure function of the path; a history repeats the same paths thousands of times
def classify(path: str | None) -> Context:
    """The context of a file at ``path`` (a commit or tag message counts as ``source``).

    The first that applies wins: vendored (third-party code inside any tree,
    even a committed virtualenv under ``examples/``), generated, test, a docs
    directory, example, a documentation file; anything else is source, config or data.
    """
    if not path:
        return "source"
    parts = path.replace("\\", "/").strip("/").split("/")
    dirs = [d.lower() for d in parts[:-1]]
    name = parts[-1]
    if any(d in _VENDORED_DIRS or d.endswith((".dist-info", ".egg-info")) for d in dirs):
        return "vendored"
    if _GENERATED_FILES.search(name) or any(d in _GENERATED_DIRS for d in dirs):
        return "generated"
    if _TEST_FILES.match(name) or any(d in _TEST_DIRS for d in dirs):
        return "test"
    if any(d in _DOCS_DIRS for d in dirs):
        return "docs"
    if _EXAMPLE_FILES.search(name) or any(d in _EXAMPLE_DIRS for d in dirs):
        return "example"
    if _DOCS_FILES.search(name):
        return "docs"
    return "source"


def family(rule: str) -> str:
    """``keyword.secret`` → ``keyword``."""
    return rule.split(".", 1)[0]


def is_generic(rule: str) -> bool:
    """Whether ``rule`` matches a generic assignment shape (not a format of its own)."""
    return family(rule) in GENERIC_FAMILIES


def confidence(rule: str, context: str, *, generated_value: bool) -> Confidence:
    """How likely a finding of ``rule`` in ``context`` is a live credential (see the module docstring).

    ``generated_value``: whether the value looks machine-generated (:func:`looks_generated`).
    """
    if not is_generic(rule):
        return "high"
    if context in ALWAYS_LOW_CONTEXTS:
        return "low"
    return "medium" if generated_value else "low"


def held_for_review(context: str, conf: str) -> bool:
    """Whether the plan's default leaves this finding out (listed for review, ``--include`` brings it in)."""
    return conf == "low" and context in REVIEW_CONTEXTS


_TRIPLE = re.compile(rb"\"\"\"|'''")
_STATEMENT_START = re.compile(rb"(?:^|\n)[ \t]*[rRuUbB]{0,2}$")


def has_docstrings(path: str) -> bool:
    """Whether files at ``path`` are Python, whose docstrings hold documentation."""
    return path.lower().endswith((".py", ".pyi", ".pyw"))


def docstring_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of triple-quoted strings that stand as a statement of their own (docstrings).

    A triple-quoted string assigned or passed somewhere (``CONFIG = \"\"\"…\"\"\"``) is data, not
    documentation: it may be a config template holding a real value, so it is left out.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = _TRIPLE.search(data, pos)
        if m is None:
            return spans
        end = data.find(m.group(0), m.end())
        if end < 0:
            return spans
        head = data[max(0, m.start() - 200):m.start()]
        if _STATEMENT_START.search(head):
            spans.append((m.end(), end))
        pos = end + 3


def only_in_spans(data: bytes, value: str, spans: list[tuple[int, int]]) -> bool:
    """Whether every occurrence of ``value`` in ``data`` lies inside one of ``spans``."""
    needle = value.encode("utf-8", "surrogateescape")
    at = data.find(needle)
    if at < 0:
        return False
    while at >= 0:
        if not any(s <= at and at + len(needle) <= e for s, e in spans):
            return False
        at = data.find(needle, at + 1)
    return True
