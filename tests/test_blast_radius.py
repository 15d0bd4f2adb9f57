"""Blast radius: the rewrite changes exactly the commits that carry purged content or descend from one.

A real history with SSH-signed commits and tags (a throwaway key made by the test), several branches
and tags, some reaching the leak and some not: the plan's prediction is the result, untouched signed
commits and tags keep their ids and verify, the commit-map's changes are exactly the changed commits,
and the rescan is clean.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sanitize import git
from sanitize.errors import VerificationFailed
from sanitize.purge import blast_radius
from sanitize.purge.approval import approve, describe_approval
from sanitize.purge.blast_radius import BlastRadius
from sanitize.purge.plan import Plan, make_plan
from sanitize.purge.rewrite import rewrite
from sanitize.scan.engine import scan_repository
from sanitize.workdir import Workdir

EMAIL = "dev@example.invalid"


class Signed:
    """A repository whose every commit and annotated tag is signed with a throwaway SSH key."""

    def __init__(self, root: Path, seed: int = 11) -> None:
        self.root = root
        self.path = root / "repo"
        rng = random.Random(seed)
        self.jwt = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.db_pw = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20))
        key = root / "signing"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", EMAIL, "-f", str(key)], check=True)
        self.allowed = root / "allowed_signers"
        self.allowed.write_text(f'{EMAIL} namespaces="git" {(root / "signing.pub").read_text().strip()}\n')
        self.sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "-c", "user.name=Dev",
                     "-c", f"user.email={EMAIL}", "-c", f"gpg.ssh.allowedSignersFile={self.allowed}"]
        git.run(["init", "-q", "-b", "main", str(self.path)])
        self.n = 0

    def git(self, *args: str) -> str:
        return git.out([*self.sign, *args], cwd=self.path)

    def commit(self, msg: str, files: dict[str, str]) -> str:
        for name, text in files.items():
            f = self.path / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
            git.run(["add", name], cwd=self.path)
        self.n += 1
        when = f"2026-01-01T00:{self.n:02d}:00Z"
        env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        git.run([*self.sign, "commit", "-q", "-S", "--allow-empty", "-m", msg], cwd=self.path, env=env)
        return self.git("rev-parse", "HEAD")

    def verify_commit(self, repo: Path, sha: str) -> bool:
        return git.run([*self.sign, "verify-commit", sha], cwd=repo, check=False).returncode == 0

    def verify_tag(self, repo: Path, ref: str) -> bool:
        return git.run([*self.sign, "verify-tag", ref], cwd=repo, check=False).returncode == 0


def _build(root: Path) -> tuple[Signed, dict[str, str]]:
    """main: a-b-c-d(.env)-e-f-M(merge docs); docs: c-g-h (clean); feature: e-i(JWT default);
    old: b-x (clean); tags: v1.0 (signed, on b), v1.1 (signed, on c), v2.0 (signed, on f), light (on g)."""
    s = Signed(root)
    ids: dict[str, str] = {}
    ids["a"] = s.commit("init", {"README.md": "hello\n"})
    ids["b"] = s.commit("app", {"app.py": "print('app')\n"})
    s.git("tag", "-s", "v1.0", "-m", "release 1.0")
    ids["c"] = s.commit("more app", {"app.py": "print('app 2')\n"})
    s.git("tag", "-s", "v1.1", "-m", "release 1.1")
    s.git("checkout", "-q", "-b", "docs")
    ids["g"] = s.commit("docs", {"docs/index.md": "docs\n"})
    s.git("tag", "light")
    ids["h"] = s.commit("more docs", {"docs/more.md": "more\n"})
    s.git("checkout", "-q", "-b", "old", ids["b"])
    ids["x"] = s.commit("maintenance", {"app.py": "print('app 1.0.1')\n"})
    s.git("checkout", "-q", "main")
    ids["d"] = s.commit("local settings", {".env": f"DATABASE_URL=postgres://app:{s.db_pw}@db.internal/app\n"})
    ids["e"] = s.commit("tweak", {"app.py": "print('app 3')\n"})
    s.git("checkout", "-q", "-b", "feature")
    ids["i"] = s.commit("token helper", {"server/auth.js":
                                         f'const secret = process.env.JWT_SECRET || "{s.jwt}";\n'})
    s.git("checkout", "-q", "main")
    git.run(["rm", "-q", ".env"], cwd=s.path)
    ids["f"] = s.commit("remove settings", {})
    s.git("tag", "-s", "v2.0", "-m", "release 2.0")
    s.git("merge", "-q", "-S", "--no-ff", "-m", "merge docs", "docs")
    ids["M"] = s.git("rev-parse", "HEAD")
    return s, ids


def _purge(tmp_path: Path) -> tuple[Signed, dict[str, str], dict[str, str], Plan, Path]:
    s, ids = _build(tmp_path)
    before = git.refs(s.path)
    report = scan_repository(str(s.path))
    (tmp_path / "findings.json").write_text(report.to_json())
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "review" / "plan.json"))
    return s, ids, before, plan, tmp_path / "wd"


@pytest.fixture(scope="module")
def purged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Signed, dict[str, str], dict[str, str], Plan, Path,
                                                               dict[str, Any]]:
    s, ids, before, plan, wd = _purge(tmp_path_factory.mktemp("blast"))
    result = rewrite(str(plan.path), str(wd))
    return s, ids, before, plan, wd, result.report.dump()


def _descendants_of(repo: Path, seeds: list[str]) -> set[str]:
    """Independent oracle: every commit of any ref that has a seed as ancestor-or-self."""
    every = git.out(["rev-list", "--all"], cwd=repo).splitlines()
    return {c for c in every if any(
        git.run(["merge-base", "--is-ancestor", seed, c], cwd=repo, check=False).returncode == 0 for seed in seeds)}


def _cmap(wd: Path) -> dict[str, str]:
    return dict(line.split() for line in (wd / "commit-map").read_text().splitlines()[1:])


def test_the_scan_found_the_leaks_the_history_was_built_with(purged: Any) -> None:
    _s, _ids, _before, plan, _wd, _report = purged
    assert ".env" in plan.paths
    assert len(plan.planned_sha256s) >= 2  # the DSN password and the JWT default


def test_prediction_equals_result_per_ref_and_in_total(purged: Any) -> None:
    s, ids, before, plan, wd, report = purged
    changed = _descendants_of(s.path, [ids["d"], ids["i"]])
    assert changed == {ids[k] for k in ("d", "e", "f", "i", "M")}  # the oracle itself is what we built
    result = report["blast_radius"]["result"]
    assert report["blast_radius"]["matches"] and not report["blast_radius"]["differences"]
    for key, value in result.items():
        assert plan.summary.dump()[key] == value, key
    assert plan.summary.dump()["commits_changing"] == len(changed) == report["commits"]["rewritten"]
    # d adds .env, e and i still hold it (i also the JWT default); f removed it, M merges two clean trees
    assert plan.summary.dump()["commits_carrying_purged_content"] == 3
    assert plan.summary.dump()["commits_descendants_only"] == 2
    per_ref = {r: len(set(git.out(["rev-list", sha], cwd=s.path).splitlines()) & changed)
               for r, sha in before.items()}
    expected_refs = {r: n for r, n in per_ref.items() if n}
    assert plan.summary.dump()["refs_changing"] == expected_refs
    assert set(expected_refs) == {"refs/heads/main", "refs/heads/feature", "refs/tags/v2.0"}
    assert plan.summary.dump()["refs_untouched"] == len(before) - 3
    detail = Workdir(wd).stage("rewrite")
    assert set(detail["old_commits"]) == changed and detail["blast_radius"] == result


def test_untouched_signed_commits_and_tags_keep_ids_and_signatures(purged: Any) -> None:
    s, ids, before, _plan, wd, report = purged
    mirror = wd / "mirror.git"
    after = git.refs(mirror)
    for ref in ("refs/heads/docs", "refs/heads/old", "refs/tags/v1.0", "refs/tags/v1.1", "refs/tags/light"):
        assert after[ref] == before[ref], ref
    for tag in ("v1.0", "v1.1"):
        assert s.verify_tag(mirror, tag), tag
    unchanged = set(git.out(["rev-list", "--all"], cwd=s.path).splitlines()) - set(
        Workdir(wd).stage("rewrite")["old_commits"])
    assert {ids[k] for k in ("a", "b", "c", "g", "h", "x")} == unchanged
    for c in unchanged:
        assert s.verify_commit(mirror, c), c  # same id, signature intact, still in the rewritten mirror
    # the merge's untouched side is still its parent
    assert ids["h"] in git.out(["rev-list", "--parents", "-n1", after["refs/heads/main"]], cwd=mirror).split()
    # what changed lost its signatures, and the report says exactly which
    changed_signed = {c for c in Workdir(wd).stage("rewrite")["old_commits"] if s.verify_commit(s.path, c)}
    assert set(report["signatures_dropped"]["commits"]) == changed_signed and len(changed_signed) == 5
    assert [t["ref"] for t in report["signatures_dropped"]["tags"]] == ["refs/tags/v2.0"]
    assert report["blast_radius"]["result"]["signed_tags_losing_signature"] == 1
    assert not s.verify_tag(mirror, "v2.0") and not s.verify_commit(mirror, after["refs/heads/main"])
    # refs that reach no changed commit were not even exported
    ref_map = (wd / "ref-map").read_text()
    assert "refs/heads/docs" not in ref_map and "refs/tags/v1.0" not in ref_map and "refs/heads/main" in ref_map


def test_commit_map_changes_exactly_the_changed_commits(purged: Any) -> None:
    s, ids, _before, _plan, wd, _report = purged
    cmap = _cmap(wd)
    every = set(git.out(["rev-list", "--all"], cwd=s.path).splitlines())
    assert set(cmap) == every
    assert {o for o, n in cmap.items() if o != n} == _descendants_of(s.path, [ids["d"], ids["i"]])
    mirror = wd / "mirror.git"
    for old, new in cmap.items():
        assert git.run(["cat-file", "-e", f"{new}^{{commit}}"], cwd=mirror, check=False).returncode == 0
        if old != new:
            assert git.run(["cat-file", "-e", old], cwd=mirror, check=False).returncode != 0  # gone after gc


def test_rescan_is_clean_and_the_values_are_gone(purged: Any) -> None:
    s, _ids, _before, plan, wd, report = purged
    assert report["verification"]["clean"], report["verification"]["problems"]
    mirror = wd / "mirror.git"
    objects = git.run(["cat-file", "--batch-all-objects", "--batch"], cwd=mirror).stdout
    assert s.jwt.encode() not in objects and s.db_pw.encode() not in objects
    assert git.out(["log", "--all", "--format=%H", "--", ".env"], cwd=mirror) == ""
    rescan = scan_repository(str(mirror))
    assert not {f.secret_sha256 for f in rescan.findings} & plan.planned_sha256s


def test_plan_md_report_and_approval_state_the_same_numbers(purged: Any) -> None:
    _s, _ids, _before, plan, wd, report = purged
    result = report["blast_radius"]["result"]
    line = blast_radius.describe(result)
    assert f"{result['commits_changing']} commit(s) on 3 of {result['refs_total']} ref(s)" in line
    md = plan.markdown_path.read_text()
    assert f"Commits that will change: {result['commits_changing']} of {result['commits_total']}" in md
    assert f"Refs that will change: 3 of {result['refs_total']} ({result['refs_untouched']} untouched)" in md
    assert "5 signed commit(s) and 1 signed tag(s)" in md
    rmd = (wd / "rewrite-report.md").read_text()
    assert f"Refs changed: 3 of {result['refs_total']}" in rmd and "Blast radius as planned: yes" in rmd
    a = approve(wd, approver="Lead", digest=plan.digest)
    assert describe_approval(wd, a).endswith(line)
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "approve", "--workdir", str(wd), "--approver",
                           "Second", "--digest", plan.digest], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == 0, proc.stderr
    assert line in proc.stdout and "rewritten refs" not in proc.stdout


def test_a_rewrite_that_would_change_less_than_needed_fails_closed(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """If the exported range missed a ref, the leak would survive there: the rewrite must refuse."""
    _s, _ids, _before, plan, wd = _purge(tmp_path)
    real = blast_radius.compute

    def short(*args: Any, **kw: Any) -> BlastRadius:
        r = real(*args, **kw)
        return BlastRadius(**{**r.to_dict(), "export_refs": [x for x in r.export_refs if x != "refs/heads/feature"]})

    monkeypatch.setattr(blast_radius, "compute", short)
    with pytest.raises(VerificationFailed):
        rewrite(str(plan.path), str(wd))
    rep = json.loads((wd / "rewrite-report.json").read_text())
    assert not rep["blast_radius"]["matches"]
    assert any(p.startswith("blast radius:") for p in rep["verification"]["problems"])


def test_a_value_in_a_tag_message_remakes_that_tag_only(tmp_path: Path) -> None:
    s = Signed(tmp_path, seed=3)
    for n in range(3):
        s.commit(f"c{n}", {f"f{n}.txt": f"{n}\n"})
    s.git("tag", "-s", "v1", "-m", "release 1", "HEAD~1")
    s.git("tag", "-s", "v2", "-m", f"release 2, deployed with postgres://app:{s.db_pw}@db.internal/app", "HEAD~1")
    before = git.refs(s.path)
    (tmp_path / "findings.json").write_text(scan_repository(str(s.path)).to_json())
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "review" / "plan.json"))
    assert plan.summary.dump()["refs_changing"] == {"refs/tags/v2": 0} and plan.summary.dump()["commits_changing"] == 0
    assert plan.summary.dump()["signed_tags_losing_signature"] == 1
    result = rewrite(str(plan.path), str(tmp_path / "wd"))
    after = git.refs(result.mirror)
    assert result.clean and result.report.blast_radius.matches
    assert {r for r in before if after.get(r) != before[r]} == {"refs/tags/v2"}
    assert s.verify_tag(result.mirror, "v1") and not s.verify_tag(result.mirror, "v2")
    assert s.db_pw not in git.out(["cat-file", "tag", "v2"], cwd=result.mirror)
    for c in git.out(["rev-list", "--all"], cwd=s.path).splitlines():
        assert s.verify_commit(result.mirror, c)


def _brute_carriers(repo: Path, radius: BlastRadius, paths: list[str], values: list[bytes]) -> list[str]:
    bad_blobs, message_commits, _tags = blast_radius._objects_with_values(repo, values)
    brute = set()
    for c in radius.exported:
        for entry in git.out(["ls-tree", "-r", "-z", "--full-tree", c], cwd=repo).split("\0"):
            if entry:
                meta, _, path = entry.partition("\t")
                if blast_radius.matches_path(path, paths) or meta.split()[2] in bad_blobs:
                    brute.add(c)
        if c in message_commits:
            brute.add(c)
    return sorted(brute)


def test_carriers_match_a_tree_by_tree_check_on_the_demo_history(tmp_path: Path) -> None:
    """The one-pass carrier count (merges resolved from their combined diff) equals asking git per commit."""
    from demo.story_repo import build_demo_repo

    demo = build_demo_repo(tmp_path / "demo", seed=7)
    (tmp_path / "findings.json").write_text(scan_repository(str(demo.path)).to_json())
    plan = make_plan(str(tmp_path / "findings.json"), str(tmp_path / "review" / "plan.json"))
    values = [v.reveal().encode() for v in plan.secret_values()]
    radius = blast_radius.compute(demo.path, plan.tips, plan.paths, values)
    assert radius.carriers == _brute_carriers(demo.path, radius, plan.paths, values) and radius.carriers


def test_merges_that_keep_or_drop_the_leak_are_told_apart(tmp_path: Path) -> None:
    """Neither merge shows .env in its combined diff: one kept it from a parent, the other took the deletion."""
    s = Signed(tmp_path, seed=5)
    s.commit("root", {"a.txt": "a\n"})
    s.git("checkout", "-q", "-b", "side")
    s.commit("side work", {"b.txt": "b\n"})
    s.git("checkout", "-q", "main")
    leak = s.commit("settings", {".env": f"DATABASE_URL=postgres://app:{s.db_pw}@db.internal/app\n"})
    s.git("merge", "-q", "--no-ff", "-m", "merge side (keeps .env)", "side")
    keeps = s.git("rev-parse", "HEAD")
    s.git("checkout", "-q", "-b", "cleanup")
    git.run(["rm", "-q", ".env"], cwd=s.path)
    s.commit("drop settings", {})
    s.git("checkout", "-q", "main")
    s.commit("unrelated", {"c.txt": "c\n"})
    s.git("merge", "-q", "--no-ff", "-m", "merge cleanup (drops .env)", "cleanup")
    drops = s.git("rev-parse", "HEAD")
    assert git.run(["cat-file", "-e", f"{drops}:.env"], cwd=s.path, check=False).returncode != 0
    tips = git.refs(s.path)
    radius = blast_radius.compute(s.path, tips, [".env"], [s.db_pw.encode()])
    carriers = set(radius.carriers)
    assert leak in carriers and keeps in carriers and drops not in carriers and drops in radius.changed
    assert radius.carriers == _brute_carriers(s.path, radius, [".env"], [s.db_pw.encode()])
