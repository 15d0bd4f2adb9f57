"""A collaborator pastes the notice's commands, in order, into a clone made before the purge: nothing is lost.

The purge is the real one (scan → plan → rewrite → notify → approve → push) on a bare
remote; the clone has unpushed commits on two stacked branches, a dirty work tree,
a stash and a local tag. After the notice's "keep your clone" block and its
self-check, every piece of that work is on the rewritten history, the old commits
are gone, and the backups were deleted only once the migrated work was in place.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sanitize import git
from sanitize.collaborator.notify import notify
from sanitize.purge.approval import approve
from sanitize.purge.fail_closed import acknowledge, check_acknowledged
from sanitize.purge.plan import make_plan, read_plan
from sanitize.purge.push import push
from sanitize.purge.rewrite import rewrite
from sanitize.scan.engine import scan_repository
from sanitize.workdir import Workdir

ROOT = Path(__file__).parents[1]
BACKUPS = "refs/sanitize-backup/"


def fake(rng: random.Random, prefix: str, n: int = 24) -> str:
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
        git.run(["add", name], cwd=repo)
    git.run(["commit", "-qm", message], cwd=repo)
    return git.out(["rev-parse", "HEAD"], cwd=repo)


def identity(repo: Path, name: str, mail: str) -> None:
    git.run(["config", "user.name", name], cwd=repo)
    git.run(["config", "user.email", mail], cwd=repo)


@dataclass
class Purge:
    remote: Path
    workdir: Path
    clone: Path
    secrets: tuple[str, ...]
    digest: str
    old_first_changed: list[str]
    home: Path


def code_block(markdown: str, heading: str) -> list[str]:
    """The lines of the first ```sh block after ``heading``, exactly as printed."""
    block = markdown.split(heading, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def bash(line: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid"}
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def save_attachments(eml: Path, into: Path) -> None:
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    for part in msg.iter_attachments():
        name = part.get_filename()
        assert name in ("commit-map", "purged.json")
        (into / name).write_bytes(part.get_payload(decode=True))


@pytest.fixture
def purge(tmp_path: Path) -> Purge:
    """Lead's repository with a leaked .env and password; a colleague's clone full of unpushed work; the purge."""
    rng = random.Random(11)
    token, password = fake(rng, "ghp_"), fake(rng, "pw", 16)
    origin = tmp_path / "origin"
    git.run(["init", "-q", "-b", "main", str(origin)])
    identity(origin, "Alice Admin", "alice@example.invalid")
    commit(origin, {"README.md": "# app\n", "app.py": "print('hi')\n"}, "initial")
    commit(origin, {".env": f"GITHUB_TOKEN={token}\n",
                    "config.py": f'DB_PASSWORD = "{password}"\n'}, "add config")
    commit(origin, {"app.py": "print('hello')\n"}, "tweak app")
    git.run(["checkout", "-q", "-b", "feature"], cwd=origin)
    commit(origin, {"feature.py": "X = 1\n"}, "feature work")
    git.run(["checkout", "-q", "main"], cwd=origin)
    remote = tmp_path / "remote.git"
    git.run(["clone", "-q", "--bare", str(origin), str(remote)])

    # Dana cloned before the purge and has work nobody else has.
    clone = tmp_path / "dana"
    git.run(["clone", "-q", str(remote), str(clone)])
    identity(clone, "Dana Dev", "dana@example.invalid")
    git.run(["checkout", "-q", "-b", "topic"], cwd=clone)
    t1 = commit(clone, {"topic.txt": "topic one\n"}, "topic one")
    commit(clone, {"topic.txt": "topic one\ntopic two\n"}, "topic two")
    git.run(["tag", "mytag", t1], cwd=clone)                         # a local tag on a local commit
    git.run(["tag", "-a", "-m", "old release", "oldrel", "main"], cwd=clone)  # on old history
    git.run(["checkout", "-q", "-b", "stacked"], cwd=clone)          # stacked on topic
    commit(clone, {"stacked.txt": "on top of topic\n"}, "stacked work")
    git.run(["checkout", "-q", "main"], cwd=clone)
    (clone / "app.py").write_text("print('stashed change')\n")
    git.run(["stash", "push", "-q", "-m", "half-done app change"], cwd=clone)
    git.run(["checkout", "-q", "stacked"], cwd=clone)
    (clone / "stacked.txt").write_text("on top of topic\nnot committed yet\n")  # dirty, unstaged
    (clone / "new.txt").write_text("staged, never committed\n")
    git.run(["add", "new.txt"], cwd=clone)                                        # dirty, staged

    findings = tmp_path / "findings.json"
    findings.write_text(scan_repository(str(remote)).to_json())
    plan = make_plan(str(findings), str(tmp_path / "plan.json"))
    workdir = tmp_path / "wd"
    rewrite(str(tmp_path / "plan.json"), str(workdir))
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,role\nDana Dev,dana@example.invalid,dev\n")
    notify(workdir, roster=roster, deadline="2026-12-24")
    Workdir.open(workdir).set_meta(approval_policy={"allowed_signers": None, "unsigned": True})  # as a playbook
    approve(workdir, approver="Alice", digest=plan.digest)
    # config.py's DB_PASSWORD constant has no safe fail-closed edit: the lead acknowledges it, to fix after the push.
    acknowledge(Workdir.open(workdir), check_acknowledged(read_plan(workdir / "plan.json"), ["config.py"]),
                "Alice")
    push(workdir)
    old_commits = git.out(["rev-list", "--reverse", "refs/remotes/origin/main"], cwd=clone).splitlines()
    cmap = dict(line.split() for line in (workdir / "commit-map").read_text().splitlines()[1:])
    first = [c for c in old_commits if cmap.get(c, c) != c][:1]
    assert first, "the rewrite changed no commit of main"
    home = tmp_path / "home"
    home.mkdir()
    return Purge(remote, workdir, clone, (token, password), plan.digest, first, home)


def run_keep_block(p: Purge, stop_before: str | None = None, changed_only: bool = False) -> tuple[list[str], str]:
    """Paste the notice's keep-your-clone block line by line; returns the lines run and all output."""
    notice = (p.workdir / "notices" / "dana-example-invalid.md").read_text()
    lines = code_block(notice, "## Keep your clone")
    ran, output = [], ""
    for line in lines:
        if stop_before and stop_before in line:
            break
        proc = bash(line, p.clone, p.home)
        output += proc.stdout + proc.stderr
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        ran.append(line)
        if line.startswith("mkdir -p "):  # "save the two attached files into the directory it creates"
            kit = p.home / "git-sanitize-kit" / p.digest[:12]
            assert kit.is_dir()
            save_attachments(p.workdir / "notices" / "dana-example-invalid.eml", kit)
            if changed_only:  # as a rewrite restricted to the affected commits publishes it
                lines_ = (kit / "commit-map").read_text().splitlines()
                kept = [x for x in lines_[1:] if x.split()[0] != x.split()[1]]
                (kit / "commit-map").write_text("\n".join([lines_[0], *kept]) + "\n")
    return ran, output


def test_pasting_the_notice_in_order_keeps_every_piece_of_unpushed_work(purge: Purge) -> None:
    p = purge
    clone, new_main = p.clone, git.refs(p.remote)["refs/heads/main"]
    ran, output = run_keep_block(p, stop_before="--finish")
    assert any("git-sanitize migrate --commit-map" in line for line in ran)
    # Between the two migrate commands the old tips are still kept: nothing is deleted yet.
    assert any(r.startswith(BACKUPS) for r in git.refs(clone))
    rest = code_block((p.workdir / "notices" / "dana-example-invalid.md").read_text(), "## Keep your clone")
    for line in rest[len(ran):]:
        proc = bash(line, clone, p.home)
        output += proc.stdout + proc.stderr
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)

    # Both branches on the rewritten history, stacked order kept, no commit duplicated.
    assert git.run(["merge-base", "--is-ancestor", new_main, "topic"], cwd=clone, check=False).returncode == 0
    assert git.out(["log", "--format=%s", "main..stacked"], cwd=clone).splitlines() == [
        "stacked work", "topic two", "topic one"]
    assert git.out(["rev-parse", "stacked~1"], cwd=clone) == git.out(["rev-parse", "topic"], cwd=clone)
    # The local tags follow their commits.
    assert git.out(["rev-parse", "mytag"], cwd=clone) == git.out(["rev-parse", "topic~1"], cwd=clone)
    assert git.out(["rev-parse", "oldrel^{commit}"], cwd=clone) == new_main
    # The uncommitted changes are back, staged and unstaged as they were, on the branch that was checked out.
    assert git.out(["symbolic-ref", "--short", "HEAD"], cwd=clone) == "stacked"
    assert (clone / "stacked.txt").read_text() == "on top of topic\nnot committed yet\n"
    assert git.out(["diff", "--cached", "--name-only"], cwd=clone) == "new.txt"
    # The stash is there, on the rewritten history, with its change.
    stashes = git.out(["stash", "list", "--format=%gs"], cwd=clone).splitlines()
    assert len(stashes) == 1 and "half-done app change" in stashes[0]
    assert git.out(["rev-parse", "stash@{0}^1"], cwd=clone) == new_main
    assert "stashed change" in git.out(["stash", "show", "-p", "stash@{0}"], cwd=clone)
    # The purged content is gone from every ref, and the old commits from the object store.
    assert not any(r.startswith(BACKUPS) for r in git.refs(clone))
    assert not (clone / ".env").exists()
    for sha in p.old_first_changed:
        assert git.run(["cat-file", "-e", sha], cwd=clone, check=False).returncode != 0
    checks = code_block((p.workdir / "notices" / "dana-example-invalid.md").read_text(), "## Self-check")
    assert checks
    for line in checks:
        proc = bash(line, clone, p.home)
        assert proc.stdout.startswith("ok:") and "FAIL" not in proc.stdout, (line, proc.stdout)
    for secret in p.secrets:
        assert secret not in output
        assert git.run(["grep", "-q", secret, "--", "."], cwd=clone, check=False).returncode != 0
    # And the work can be pushed: the remote accepts it on top of the rewritten history.
    git.run(["push", "-q", "origin", "stacked"], cwd=clone)


def test_finish_keeps_the_backups_while_migrated_work_is_missing(purge: Purge) -> None:
    p = purge
    run_keep_block(p, stop_before="--finish")
    before = {r: v for r, v in git.refs(p.clone).items() if r.startswith(BACKUPS)}
    # The colleague throws the migrated branch away by mistake: finish must not delete its only other copy.
    git.run(["branch", "-f", "topic", "origin/main"], cwd=p.clone)
    kit = p.home / "git-sanitize-kit" / p.digest[:12]
    proc = bash(f"git-sanitize migrate --finish --commit-map {kit}/commit-map", p.clone, p.home)
    assert proc.returncode == 2 and "branch topic no longer holds its migrated work" in proc.stderr
    assert "git branch -f topic" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert {r: v for r, v in git.refs(p.clone).items() if r.startswith(BACKUPS)} == before


def test_migrate_names_the_commit_and_file_that_bring_a_secret_back(purge: Purge) -> None:
    p = purge
    git.run(["stash", "push", "-q", "--include-untracked"], cwd=p.clone)  # park the dirty tree
    git.run(["checkout", "-q", "topic"], cwd=p.clone)
    bad = commit(p.clone, {"settings.py": f'PASSWORD = "{p.secrets[1]}"\n'}, "hardcode the db password")
    kit = p.home / "kit"
    kit.mkdir()
    save_attachments(p.workdir / "notices" / "dana-example-invalid.eml", kit)
    bash("git fetch -q origin --prune --force '+refs/heads/*:refs/remotes/origin/*'", p.clone, p.home)
    before = {r: v for r, v in git.refs(p.clone).items() if not r.startswith("refs/remotes/")}
    proc = bash(f"git-sanitize migrate --commit-map {kit}/commit-map", p.clone, p.home)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"commit {bad[:12]}" in line and "settings.py" in line and "hardcode the db password" in line
    assert "git rebase -i" in line and "Nothing was moved" in line
    assert p.secrets[1] not in proc.stderr + proc.stdout
    assert {r: v for r, v in git.refs(p.clone).items() if not r.startswith("refs/remotes/")} == before


def test_pasting_the_procedure_twice_is_harmless(purge: Purge) -> None:
    p = purge
    run_keep_block(p)
    after_first = {r: v for r, v in git.refs(p.clone).items() if not r.startswith("refs/remotes/")}
    _, output = run_keep_block(p)
    assert "nothing in this clone is on the old history" in output and "self-check passed" in output
    assert {r: v for r, v in git.refs(p.clone).items() if not r.startswith("refs/remotes/")} == after_first
    assert len(git.out(["stash", "list"], cwd=p.clone).splitlines()) == 1


def test_a_detached_head_on_old_history_follows_its_commit(purge: Purge) -> None:
    p = purge
    git.run(["stash", "push", "-q"], cwd=p.clone)
    git.run(["checkout", "-q", "--detach", "topic~1"], cwd=p.clone)
    run_keep_block(p)
    assert git.run(["symbolic-ref", "-q", "HEAD"], cwd=p.clone, check=False).returncode != 0
    assert git.out(["rev-parse", "HEAD"], cwd=p.clone) == git.out(["rev-parse", "topic~1"], cwd=p.clone)
    assert len(git.out(["stash", "list"], cwd=p.clone).splitlines()) == 2


def test_a_commit_map_listing_only_changed_commits_works_too(purge: Purge) -> None:
    p = purge
    run_keep_block(p, changed_only=True)
    new_main = git.refs(p.remote)["refs/heads/main"]
    assert git.out(["log", "--format=%s", f"{new_main}..stacked"], cwd=p.clone).splitlines() == [
        "stacked work", "topic two", "topic one"]
    assert not any(r.startswith(BACKUPS) for r in git.refs(p.clone))
    for sha in p.old_first_changed:
        assert git.run(["cat-file", "-e", sha], cwd=p.clone, check=False).returncode != 0


def test_the_changed_commits_map_carries_work_on_a_pull_request_and_leaves_an_unaffected_branch(
        tmp_path: Path) -> None:
    # The published map lists only the commits the rewrite changed. A branch checked out from a pull request
    # holds unchanged old commits that no fetched branch holds; they are old history, not local work.
    rng = random.Random(23)
    token = fake(rng, "ghp_", 36)
    origin = tmp_path / "origin"
    git.run(["init", "-q", "-b", "main", str(origin)])
    identity(origin, "Alice Admin", "alice@example.invalid")
    base = commit(origin, {"README.md": "# app\n"}, "initial")
    commit(origin, {"app.py": "print('hi')\n"}, "main work")
    git.run(["checkout", "-q", "-b", "pr", base], cwd=origin)
    pr_clean = commit(origin, {"pr.py": "X = 1\n"}, "pr: clean work")
    commit(origin, {".env": f"GITHUB_TOKEN={token}\n"}, "pr: add env")
    git.run(["checkout", "-q", "main"], cwd=origin)
    remote = tmp_path / "remote.git"
    git.run(["clone", "-q", "--bare", str(origin), str(remote)])
    git.run(["update-ref", "refs/pull/1/head", "refs/heads/pr"], cwd=remote)
    git.run(["update-ref", "-d", "refs/heads/pr"], cwd=remote)

    clone = tmp_path / "dev"
    git.run(["clone", "-q", str(remote), str(clone)])
    identity(clone, "Dana Dev", "dana@example.invalid")
    git.run(["fetch", "-q", "origin", "refs/pull/1/head:review"], cwd=clone)
    git.run(["checkout", "-q", "review"], cwd=clone)
    commit(clone, {"review.txt": "fix from review\n"}, "review fix")
    git.run(["checkout", "-q", "-b", "side", "main"], cwd=clone)
    side = commit(clone, {"side.txt": "unpushed, on an unaffected branch\n"}, "side work")

    findings = tmp_path / "findings.json"
    findings.write_text(scan_repository(str(remote)).to_json())
    make_plan(str(findings), str(tmp_path / "plan.json"))
    workdir = tmp_path / "wd"
    rewrite(str(tmp_path / "plan.json"), str(workdir))
    notify(workdir)
    published = (workdir / "notices" / "publish").resolve()
    listed = dict(line.split() for line in (published / "commit-map").read_text().splitlines()[1:])
    assert listed and pr_clean not in listed and all(old != new for old, new in listed.items())
    new_pr = git.refs(workdir / "mirror.git")["refs/pull/1/head"]

    home = tmp_path / "home"
    home.mkdir()
    git.run(["remote", "set-url", "origin", str(workdir / "mirror.git")], cwd=clone)  # as after the push
    for line in ("git fetch -q origin --prune --force '+refs/heads/*:refs/remotes/origin/*'",
                 "git fetch -q origin refs/pull/1/head",
                 f"git-sanitize migrate --commit-map {published}/commit-map --purged {published}/purged.json",
                 f"git-sanitize migrate --finish --commit-map {published}/commit-map"):
        proc = bash(line, clone, home)
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
    assert git.out(["rev-parse", "review~1"], cwd=clone) == new_pr
    assert git.out(["log", "--format=%s", "-1", "review"], cwd=clone) == "review fix"
    assert git.out(["rev-parse", "side"], cwd=clone) == side  # untouched: it never held old history
    for old in listed:
        assert git.run(["cat-file", "-e", old], cwd=clone, check=False).returncode != 0
