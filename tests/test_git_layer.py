"""Every git subprocess of the product goes through the git layer (``sanitize/git/``).

The product (``sanitize/``, ``rotation/``) is read as text: a module outside the layer that
imports ``subprocess`` (or starts processes through ``os``) fails this test unless it is one
of the few that run something other than git — ssh-keygen for signatures, an operator's
rotation command (the demo and the test services' launchers live outside the product, in
``demo/``). The plumbing the stages share has one home too: the object reader, ``ls-remote``
and URL redaction appear only in the layer.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sanitize import git

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("sanitize", "rotation")
LAYER = "sanitize/git/"
# Modules that start processes that are not git, and why.
ALLOWED = {
    "sanitize/purge/signing.py": "ssh-keygen -Y sign/verify for approvals",
    "rotation/hooks.py": "the operator's own rotation command, consumer and proof commands",
}
_SPAWN = re.compile(r"^\s*(?:import subprocess|from subprocess import)|\bos\.(?:system|popen|spawn\w*|exec\w+)\(",
                    re.M)


def _modules() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for top in PRODUCT for p in sorted((ROOT / top).rglob("*.py"))}


def test_no_module_outside_the_git_layer_starts_processes() -> None:
    offenders = sorted(name for name, text in _modules().items()
                       if _SPAWN.search(text) and not name.startswith(LAYER) and name not in ALLOWED)
    assert offenders == [], f"start git through sanitize.git (or add the module, with its reason, to ALLOWED): " \
                            f"{offenders}"


def test_the_allow_list_names_real_modules_that_start_processes() -> None:
    modules = _modules()
    assert [name for name in ALLOWED if name not in modules or not _SPAWN.search(modules[name])] == []
    assert any(_SPAWN.search(text) for name, text in modules.items() if name.startswith(LAYER))


def test_the_shared_plumbing_lives_only_in_the_layer() -> None:
    needles = {
        "object reader": re.compile(r"""["']--batch(?:-check)?(?:=|["'])|["']--batch-all-objects["']"""),
        "ls-remote parser": re.compile(r"""["']ls-remote["']"""),
        "raw log": re.compile(r"""["']log["'][^\]]*["']--raw["']"""),  # a history's raw log, not a diff
        "bundle": re.compile(r"""["']bundle["'],"""),
        "URL redaction": re.compile(r"""\*\*\*@"""),
    }
    found = sorted(f"{what}: {name}" for name, text in _modules().items() if not name.startswith(LAYER)
                   for what, rx in needles.items() if rx.search(text))
    assert found == []


def test_the_commit_graph_is_walked_once_and_read_back(tmp_path: Path, story_repo) -> None:
    import stat

    from sanitize import git

    tips = sorted({c for c in git.refs(story_repo.path).values()
                   if git.out(["cat-file", "-t", c], cwd=story_repo.path) == "commit"})
    cache = tmp_path / "wd"
    cache.mkdir(mode=0o700)
    walked = git.graph.load(story_repo.path, tips, cache=cache)
    assert walked == git.graph.CommitGraph.walk(story_repo.path, tips) and len(walked.order) > 3
    stored = list(cache.glob("commit-graph-*.json"))
    assert len(stored) == 1 and stat.S_IMODE(stored[0].stat().st_mode) == 0o600
    # Another stage asks for the same tips (in any order) in a repository that is not even there: from the cache.
    assert git.graph.load(tmp_path / "nowhere", list(reversed(tips)), cache=cache) == walked
    stored[0].write_text("{not json")  # a damaged copy is walked again, never trusted
    assert git.graph.load(story_repo.path, tips, cache=cache) == walked


def test_scan_plan_and_rewrite_of_a_purge_share_one_commit_graph(tmp_path: Path, story_repo) -> None:
    import os
    import subprocess
    import sys

    from sanitize import git
    from sanitize.faults import FAULT_ENV

    origin = tmp_path / "origin.git"
    git.run(["clone", "-q", "--mirror", "--no-local", str(story_repo.path), str(origin)])
    git.run(["update-ref", "-d", "refs/stash"], cwd=origin)
    (tmp_path / "roster.csv").write_text("name,email,role\nJordan Lee,jordan@aurora.test,reviewer\n")
    playbook = tmp_path / "purge.yml"
    playbook.write_text("source: ./origin.git\nworkdir: ./wd\napprovals: {required: 1, unsigned: true}\n"
                        'notify: {roster: roster.csv, deadline: "2026-12-01"}\n')
    trace = tmp_path / "git.trace"  # git logs every command it runs here (children inherit it)
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env["GIT_TRACE"] = str(trace)
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "run", str(playbook)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 3, proc.stderr  # at the gate: scan, plan and rewrite are done
    assert len(list((tmp_path / "wd").glob("commit-graph-*.json"))) == 1
    walks = [line for line in trace.read_text(errors="replace").splitlines()
             if "trace: built-in: git rev-list" in line and "--topo-order" in line and "--parents" in line]
    assert len(walks) == 1, walks
    # The whole history's raw log, too: the scan walks it and keeps it; plan and the rewrite read it back.
    assert len(list((tmp_path / "wd").glob("raw-log-*.z"))) == 1
    logs = [line for line in trace.read_text(errors="replace").splitlines()
            if "trace: built-in: git" in line and " log " in line and "--raw" in line and "--no-walk" not in line]
    assert len(logs) == 1, logs


def _full_logs(calls: list[list[str]]) -> list[list[str]]:
    """The git commands among ``calls`` that read a whole history's raw log (not a few commits')."""
    return [argv for argv in calls if "log" in argv and "--raw" in argv and "--no-walk=unsorted" not in argv]


def test_plan_reads_the_raw_log_the_scan_kept_instead_of_walking_history_again(
        tmp_path: Path, story_repo, monkeypatch) -> None:
    import stat

    from sanitize import git
    from sanitize.git import runner
    from sanitize.purge.plan import make_plan
    from sanitize.scan.engine import scan_repository
    from sanitize.scan.history import list_refs

    calls: list[list[str]] = []
    command = runner._command

    def recording(args, env):  # type: ignore[no-untyped-def]
        argv, full = command(args, env)
        calls.append(argv)
        return argv, full

    monkeypatch.setattr(runner, "_command", recording)
    wd = tmp_path / "wd"
    wd.mkdir(mode=0o700)
    report = scan_repository(str(story_repo.path), graph_cache=wd)
    assert report.findings and len(_full_logs(calls)) == 1  # the scan's walk (it locates the findings)
    kept = list(wd.glob("raw-log-*.z"))
    assert len(kept) == 1 and stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    findings = tmp_path / "findings.json"
    findings.write_text(report.to_json())

    calls.clear()
    cached = make_plan(str(findings), str(tmp_path / "cached" / "plan.json"), graph_cache=wd)
    assert _full_logs(calls) == []  # plan parsed the scan's copy: no second walk of history
    calls.clear()
    walked = make_plan(str(findings), str(tmp_path / "walked" / "plan.json"))
    assert len(_full_logs(calls)) == 1  # without the workdir, plan walks history itself (the counter counts)
    assert cached.digest == walked.digest and cached.delete_paths and cached.replace

    # The copy holds the same changes a fresh walk reads, and is read back without the repository.
    tips = sorted({r.commit for r in list_refs(story_repo.path) if r.commit})
    fresh = set(git.log.history_changes(story_repo.path, tips))
    assert set(git.log.history_changes(tmp_path / "nowhere", tips, cache=wd)) == fresh and len(fresh) > 5


def test_git_output_is_split_on_newlines_only_never_on_the_unicode_line_breaks_a_ref_may_hold() -> None:
    text = "a\x85b refs/heads/x\u2028y\nc\x1cd\u2029\n"
    assert git.lines(text) == ["a\x85b refs/heads/x\u2028y", "c\x1cd\u2029"]
    assert git.lines("") == [] and git.lines("one") == ["one"] and git.lines("\n") == [""]


def test_a_ref_whose_name_holds_unicode_line_breaks_is_listed_whole(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("x\n")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c"],
                   check=True)
    name = "refs/heads/a\x85b\u2028c\u2029d"
    subprocess.run(["git", "-C", str(repo), "update-ref", name, "HEAD"], check=True)
    assert name in git.refs(repo)


def test_a_path_spelled_like_a_log_header_is_read_as_a_path_never_as_a_commit(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    ident = ["-c", "user.name=t", "-c", "user.email=t@e"]
    (repo / "a").write_text("1\n")
    subprocess.run(["git", "-C", str(repo), "add", "a"], check=True)
    subprocess.run(["git", "-C", str(repo), *ident, "commit", "-qm", "one"], check=True)
    first = git.out(["rev-parse", "HEAD"], cwd=repo)
    forged = "\x01" + first
    (repo / forged).write_text("2\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), *ident, "commit", "-qm", "two"], check=True)
    second = git.out(["rev-parse", "HEAD"], cwd=repo)
    out = git.run(["-c", "core.quotePath=false", "log", "--reverse", "--name-only", "-z", git.log.FORMAT],
                  cwd=repo).stdout
    assert list(git.log.name_only(out)) == [(first, "a"), (second, forged)]
    raw = git.run(["-c", "core.quotePath=false", "log", "--reverse", "--raw", "-z", "--no-abbrev", git.log.FORMAT],
                  cwd=repo).stdout
    assert git.log.commit_before(raw, len(raw))[1] == second
    assert [(c.commit, c.path) for c in git.log.parse(raw)] == [(first, "a"), (second, forged)]
