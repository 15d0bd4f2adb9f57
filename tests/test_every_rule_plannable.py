"""Every rule's positive example, in one real repository: the scan finds each, the plan takes every
finding without refusing (planned, held back for review, or a whole-file delete), and after the rewrite
no planned value is left in any object of the mirror.

The examples are the rule tables' own: a generated token for every provider format, and every case of
the credential-file, env-fallback and inline-password table (``tests/test_credential_rules.py``),
each in its own directory so paths do not collide. Values are generated from seeds at run time.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

from sanitize import git
from sanitize.purge.plan import make_plan
from sanitize.purge.rewrite import rewrite
from sanitize.scan.engine import scan_repository
from sanitize.scan.providers import TOKEN_FORMATS
from sanitize.secret import sha256_hex
from tests.test_credential_rules import POSITIVE


def _examples() -> dict[str, tuple[str, str]]:
    """path → (text, value): one file per example."""
    files: dict[str, tuple[str, str]] = {}
    for i, fmt in enumerate(TOKEN_FORMATS):
        value = fmt.sample(random.Random(zlib.crc32(fmt.id.encode()) + 11))
        files[f"tokens/t{i}/settings.txt"] = (fmt.line(value), value)
    for i, (_prefix, path, text, value, _rule) in enumerate(POSITIVE):
        files[f"creds/c{i}/{path}"] = (text.format(v=value), value)
    return files


def test_every_rule_s_example_is_found_planned_and_gone_after_the_rewrite(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git.run(["init", "-q", "-b", "main", str(repo)])
    files = _examples()
    for path, (text, _value) in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    ident = ["-c", "user.name=Rules", "-c", "user.email=rules@example.invalid"]
    git.run([*ident, "add", "-A"], cwd=repo)
    git.run([*ident, "commit", "-qm", "every rule's example"], cwd=repo)

    report = scan_repository(str(repo))
    found = {f.secret_sha256 for f in report.findings}
    whole_files = {f.path for f in report.findings if f.kind == "path"}
    missed = [p for p, (_t, v) in files.items() if sha256_hex(v) not in found and p not in whole_files]
    assert not missed, f"examples the scan does not report: {missed}"

    findings = tmp_path / "findings.json"
    findings.write_text(report.to_json())
    plan = make_plan(str(findings), str(tmp_path / "plan" / "plan.json"))  # refusing would raise here
    planned = plan.planned_sha256s
    held = {h.secret_sha256 for h in plan.held_back}
    deleted_ids = {i for d in plan.delete_paths for i in d.finding_ids}
    unplanned = [f.rule for f in report.findings
                 if f.secret_sha256 not in planned | held and f.id not in deleted_ids and f.kind != "path"]
    assert not unplanned, f"findings the plan neither takes nor lists for review: {unplanned}"
    assert planned, "the default plan takes nothing"

    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    assert result.report.verification.clean
    everything = git.run(["cat-file", "--batch-all-objects", "--batch"], cwd=tmp_path / "wd" / "mirror.git").stdout
    values = {sha256_hex(v): v for _t, v in files.values()}
    left = sorted(sha for sha in planned if sha in values and values[sha].encode() in everything)
    assert not left, f"{len(left)} planned value(s) still in the rewritten mirror"
