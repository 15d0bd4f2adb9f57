"""A team's .gitleaks.toml works with --rules unchanged: regex, secretGroup, keywords, entropy, path, allowlists."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.errors import UsageError
from sanitize.scan.engine import scan_repository
from sanitize.scan.peer_rules import entropy, go_regex
from sanitize.scan.rules import load_custom_rules
from sanitize.secret import sha256_hex

GITLEAKS_TOML = r"""
title = "team rules"

[extend]
useDefault = true

[allowlist]
description = "generated files"
paths = ['''(?i)^vendor/''']

[[rules]]
id = "acme-api-token"
description = "ACME internal API token"
regex = '''(?i)\bacme\s+(acm_[[:alnum:]]{30})\b'''
secretGroup = 1
keywords = ["acme"]
entropy = 3.0
  [[rules.allowlists]]
  stopwords = ["acm_example"]

[[rules]]
id = "acme-vault-file"
description = "A vault password file is the leak itself"
path = '''(?:^|/)\.vault_pass(?:word)?$'''

[[rules]]
id = "acme-env-only"
regex = '''ACME_KEY=([0-9a-f]{32})'''
path = '''(?i)\.env$'''
keywords = ["ACME_KEY"]
"""


def _rand(rng: random.Random, n: int, chars: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


@pytest.fixture
def team_rules(tmp_path: Path) -> Path:
    p = tmp_path / ".gitleaks.toml"
    p.write_text(GITLEAKS_TOML, encoding="utf-8")
    return p


def test_a_gitleaks_file_is_read_as_our_rules(team_rules: Path) -> None:
    rules = {r.id: r for r in load_custom_rules(team_rules)}
    assert set(rules) == {"acme-api-token", "acme-vault-file", "acme-env-only"}
    assert rules["acme-api-token"].keywords == ("acme",) and rules["acme-api-token"].secret_group == 1
    assert rules["acme-env-only"].applies_to("deploy/.env") and not rules["acme-env-only"].applies_to("app.py")
    assert not rules["acme-api-token"].applies_to("vendor/lib.sh")  # the global allowlist's paths


def test_a_scan_with_a_gitleaks_file_honours_group_entropy_path_and_allowlists(tmp_path: Path,
                                                                               team_rules: Path) -> None:
    rng = random.Random(31)
    token = "acm_" + _rand(rng, 30)
    low_entropy = "acm_" + "ab" * 15
    stop = "acm_example" + _rand(rng, 23)  # 30 characters after acm_: the regex matches, the stopword rejects
    hexkey, other_hex = _rand(rng, 32, "0123456789abcdef"), _rand(rng, 32, "0123456789abcdef")
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    files = {
        "app/deploy.sh": f"acme {token}\nacme {low_entropy}\nacme {stop}\n",
        "vendor/lib.sh": f"acme acm_{_rand(rng, 30)}\n",
        "deploy/.env": f"ACME_KEY={hexkey}\n",
        "deploy/notes.md": f"ACME_KEY={other_hex}\n",
        "ansible/.vault_pass": _rand(rng, 20) + "\n",
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git.run(["add", "-A"], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "x"], cwd=repo)
    report = scan_repository(str(repo), rules_file=str(team_rules))
    found = {(f.rule, f.secret_sha256) for f in report.findings}
    assert ("acme-api-token", sha256_hex(token)) in found          # secretGroup: the token, not the assignment
    assert ("acme-env-only", sha256_hex(hexkey)) in found          # path: .env only
    assert [(f.kind, f.path) for f in report.findings if f.rule == "acme-vault-file"] == [
        ("path", "ansible/.vault_pass")]                             # a path-only rule: the file is the finding
    ours = {sha for rule, sha in found if rule.startswith("acme-")}
    assert sha256_hex(low_entropy) not in ours                      # entropy below 3.0
    assert sha256_hex(stop) not in ours                             # the rule's stopword
    assert sha256_hex(other_hex) not in ours                        # not a .env path
    assert not any(f.path == "vendor/lib.sh" and f.rule.startswith("acme-") for f in report.findings)


def test_the_cli_takes_a_gitleaks_file_and_bad_ones_are_one_line(tmp_path: Path, team_rules: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = "x"\nregex = \'\'\'(unclosed\'\'\'\nsecretGroup = 1\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "scan", str(tmp_path), "--rules", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    with pytest.raises(UsageError, match="secretGroup"):
        bad.write_text('[[rules]]\nid = "x"\nregex = "a(b)"\nsecretGroup = 3\n', encoding="utf-8")
        load_custom_rules(bad)
    doc = json.dumps([r.id for r in load_custom_rules(team_rules)])
    assert "acme-api-token" in doc


def test_re2_classes_and_entropy_are_computed_as_gitleaks_does() -> None:
    assert go_regex(r"[[:alnum:]_]+\z") == r"[A-Za-z0-9_]+\Z"
    assert entropy("aaaa") == 0.0 and round(entropy("abcd"), 6) == 2.0
