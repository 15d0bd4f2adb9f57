"""migrate (collaborator side): unpushed commits move onto the rewritten history; purged content is refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.collaborator.migrate import candidate_hashes, load_commit_map
from sanitize.collaborator.notify import notify
from sanitize.purge.approval import approve
from sanitize.purge.push import push
from sanitize.secret import sha256_hex
from tests.plugins.rewritten_workdir import RewrittenWorkdir


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


def commit(clone: Path, name: str, content: str, message: str) -> str:
    (clone / name).write_text(content)
    git.run(["add", name], cwd=clone)
    git.run(["commit", "-qm", message], cwd=clone)
    return git.out(["rev-parse", "HEAD"], cwd=clone)


@pytest.fixture
def dev_clone(rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> Path:
    """A collaborator's clone made before the purge; the purge is then pushed and notices published."""
    r = rewritten_workdir
    clone = tmp_path / "dev"
    git.run(["clone", "-q", str(r.remote), str(clone)])
    git.run(["config", "user.name", "Dev"], cwd=clone)
    git.run(["config", "user.email", "dev@example.invalid"], cwd=clone)
    return clone


def publish(r: RewrittenWorkdir, clone: Path) -> Path:
    approve(r.workdir, approver="Alice", digest=r.digest)
    push(r.workdir)
    notify(r.workdir)
    git.run(["fetch", "-q", "--force", "origin", "+refs/heads/*:refs/remotes/origin/*"], cwd=clone)
    return r.workdir / "notices" / "publish" / "commit-map"


def test_migrate_carries_two_unpushed_commits_across(rewritten_workdir: RewrittenWorkdir, dev_clone: Path) -> None:
    r = rewritten_workdir
    old_tip = git.out(["rev-parse", "main"], cwd=dev_clone)
    commit(dev_clone, "work1.txt", "one\n", "work one")
    commit(dev_clone, "work2.txt", "two\n", "work two")
    local_tip = git.out(["rev-parse", "main"], cwd=dev_clone)
    cmap = publish(r, dev_clone)
    proc = cli("migrate", "--commit-map", str(cmap), cwd=dev_clone)
    assert proc.returncode == 0, proc.stderr
    assert "branch main: 2 local commit(s) moved" in proc.stdout and "migrate --finish" in proc.stdout
    new_main = r.rewritten_tips["refs/heads/main"]
    assert git.out(["rev-parse", "main~2"], cwd=dev_clone) == new_main
    assert git.out(["log", "--format=%s", "-2", "main"], cwd=dev_clone).splitlines() == ["work two", "work one"]
    assert (dev_clone / "work1.txt").read_text() == "one\n" and not (dev_clone / ".env").exists()
    assert git.out(["rev-parse", "refs/sanitize-backup/heads/main"], cwd=dev_clone) == local_tip
    # No old commit is reachable from the branch any more: the self-check in the notice passes for it.
    assert git.run(["merge-base", "--is-ancestor", old_tip, "main"], cwd=dev_clone, check=False).returncode == 1
    for sha in r.first_changed_commits:
        assert git.run(["merge-base", "--is-ancestor", sha, "main"], cwd=dev_clone, check=False).returncode == 1
    git.run(["push", "-q", "origin", "main"], cwd=dev_clone)
    assert git.refs(r.remote)["refs/heads/main"] == git.out(["rev-parse", "main"], cwd=dev_clone)


def test_branch_without_local_work_moves_to_its_rewritten_tip(rewritten_workdir: RewrittenWorkdir,
                                                               dev_clone: Path) -> None:
    r = rewritten_workdir
    git.run(["branch", "feature", "origin/feature"], cwd=dev_clone)
    cmap = publish(r, dev_clone)
    proc = cli("migrate", "--commit-map", str(cmap), cwd=dev_clone)
    assert proc.returncode == 0, proc.stderr
    assert git.out(["rev-parse", "feature"], cwd=dev_clone) == r.rewritten_tips["refs/heads/feature"]
    assert git.out(["rev-parse", "main"], cwd=dev_clone) == r.rewritten_tips["refs/heads/main"]
    # The checked-out branch moved with its work tree: nothing staged, the purged file gone from disk.
    assert git.out(["status", "--porcelain"], cwd=dev_clone) == "" and not (dev_clone / ".env").exists()


def test_migrate_refuses_work_that_re_adds_a_purged_path(rewritten_workdir: RewrittenWorkdir,
                                                         dev_clone: Path) -> None:
    r = rewritten_workdir
    commit(dev_clone, "ok.txt", "fine\n", "fine")
    commit(dev_clone, ".env", "API_TOKEN=whatever\n", "bring env back")
    cmap = publish(r, dev_clone)
    before = {k: v for k, v in git.refs(dev_clone).items() if not k.startswith("refs/remotes/")}
    proc = cli("migrate", "--commit-map", str(cmap), cwd=dev_clone)
    assert proc.returncode == 2 and "re-adds the removed file .env" in proc.stderr
    assert {k: v for k, v in git.refs(dev_clone).items() if not k.startswith("refs/remotes/")} == before
    assert not any(k.startswith("refs/sanitize-backup/") for k in git.refs(dev_clone))


def test_migrate_refuses_work_that_re_adds_a_purged_value(rewritten_workdir: RewrittenWorkdir,
                                                          dev_clone: Path) -> None:
    r = rewritten_workdir
    password = r.secrets[1]
    commit(dev_clone, "settings.py", f'DB_URL = "postgres://app:{password}@db.internal:5432/app"\n', "settings")
    tip = git.out(["rev-parse", "main"], cwd=dev_clone)
    cmap = publish(r, dev_clone)
    proc = cli("migrate", "--commit-map", str(cmap), cwd=dev_clone)
    assert proc.returncode == 2 and "value the purge removed" in proc.stderr
    assert password not in proc.stderr + proc.stdout
    assert git.out(["rev-parse", "main"], cwd=dev_clone) == tip


def test_migrate_needs_the_rewritten_history_fetched(rewritten_workdir: RewrittenWorkdir, dev_clone: Path) -> None:
    r = rewritten_workdir
    commit(dev_clone, "w.txt", "w\n", "w")
    tip = git.out(["rev-parse", "main"], cwd=dev_clone)
    proc = cli("migrate", "--commit-map", str(r.workdir / "commit-map"), cwd=dev_clone)
    assert proc.returncode == 2 and "git fetch origin" in proc.stderr
    assert git.out(["rev-parse", "main"], cwd=dev_clone) == tip


def test_candidate_hashes_find_values_inside_dsns_quotes_and_assignments() -> None:
    for line, value in [('x = process.env.JWT_SECRET || "s3cr3t/with+b64="', "s3cr3t/with+b64="),
                        ("postgres://u:hunter22@h:5432/db", "hunter22"), ("API_TOKEN=abcd1234", "abcd1234")]:
        assert sha256_hex(value) in candidate_hashes(line)


def test_bad_commit_map_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "cm"
    bad.write_text("old new\nnot-a-sha also-not\n")
    with pytest.raises(Exception, match="not a commit-map line"):
        load_commit_map(str(bad))


def test_migrate_reads_the_published_kit_by_url(rewritten_workdir: RewrittenWorkdir, dev_clone: Path) -> None:
    r = rewritten_workdir
    commit(dev_clone, ".env", "API_TOKEN=again\n", "env again")
    cmap = publish(r, dev_clone)
    proc = cli("migrate", "--commit-map", cmap.resolve().as_uri(), cwd=dev_clone)
    # purged.json was found beside the commit-map URL: the re-added file is refused.
    assert proc.returncode == 2 and "re-adds the removed file .env" in proc.stderr


def test_migrate_moves_every_branch_and_returns_to_the_checked_out_one(rewritten_workdir: RewrittenWorkdir,
                                                                       dev_clone: Path) -> None:
    r = rewritten_workdir
    git.run(["checkout", "-q", "-b", "feature", "origin/feature"], cwd=dev_clone)
    commit(dev_clone, "f.txt", "f\n", "feature local")
    git.run(["checkout", "-q", "main"], cwd=dev_clone)
    commit(dev_clone, "m.txt", "m\n", "main local")
    cmap = publish(r, dev_clone)
    proc = cli("migrate", "--commit-map", str(cmap), cwd=dev_clone)
    assert proc.returncode == 0, proc.stderr
    assert git.out(["symbolic-ref", "--short", "HEAD"], cwd=dev_clone) == "main"
    assert git.out(["rev-parse", "feature~1"], cwd=dev_clone) == r.rewritten_tips["refs/heads/feature"]
    assert git.out(["rev-parse", "main~1"], cwd=dev_clone) == r.rewritten_tips["refs/heads/main"]
    assert git.out(["log", "-1", "--format=%s", "feature"], cwd=dev_clone) == "feature local"


def test_migrate_conflict_puts_every_branch_back(rewritten_workdir: RewrittenWorkdir, dev_clone: Path) -> None:
    r = rewritten_workdir
    # The natural fix (read the password from the environment) conflicts with the purge's replacement.
    git.run(["checkout", "-q", "-b", "feature", "origin/feature"], cwd=dev_clone)
    commit(dev_clone, "f.txt", "f\n", "feature local")
    git.run(["checkout", "-q", "main"], cwd=dev_clone)
    commit(dev_clone, "config.yml", "db:\n  user: app\n  password: ${DB_PASSWORD}\n", "read password from env")
    before = {k: v for k, v in git.refs(dev_clone).items() if k.startswith("refs/heads/")}
    cmap = publish(r, dev_clone)
    proc = cli("migrate", "--commit-map", str(cmap), cwd=dev_clone)
    assert proc.returncode == 2 and "conflict" in proc.stderr
    assert {k: v for k, v in git.refs(dev_clone).items() if k.startswith("refs/heads/")} == before
    assert git.out(["symbolic-ref", "--short", "HEAD"], cwd=dev_clone) == "main"
    assert git.out(["status", "--porcelain", "--untracked-files=no"], cwd=dev_clone) == ""
    assert r.secrets[1] not in proc.stderr


def test_migrate_without_a_committer_identity_says_so_and_moves_nothing(rewritten_workdir: RewrittenWorkdir,
                                                                       dev_clone: Path, tmp_path: Path) -> None:
    """Found on a trial: a clone whose git has no user.email made the rebase fail, reported as a conflict."""
    r = rewritten_workdir
    commit(dev_clone, "work1.txt", "one\n", "work one")
    local_tip = git.out(["rev-parse", "main"], cwd=dev_clone)
    git.run(["config", "--unset", "user.name"], cwd=dev_clone)
    git.run(["config", "--unset", "user.email"], cwd=dev_clone)
    cmap = publish(r, dev_clone)
    home = tmp_path / "empty-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER", "EMAIL"))}
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "migrate", "--commit-map", str(cmap)],
                          capture_output=True, text=True, cwd=dev_clone,
                          env={**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "GIT_CONFIG_GLOBAL": "/dev/null",
                               "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 2, proc.stderr
    assert "git config user.name" in proc.stderr and "nothing was moved" in proc.stderr
    assert "conflict" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert git.out(["rev-parse", "main"], cwd=dev_clone) == local_tip
    assert not git.out(["for-each-ref", "refs/sanitize-backup/"], cwd=dev_clone)


def test_finish_in_a_partial_clone_names_the_promisor_packs_and_a_fresh_clone_fixes_it(
        rewritten_workdir: RewrittenWorkdir, tmp_path: Path) -> None:
    """A partial clone keeps every object a promisor remote sent, whatever gc is told: say so, and how."""
    r = rewritten_workdir
    git.run(["config", "uploadpack.allowFilter", "true"], cwd=r.remote)
    clone = tmp_path / "partial"
    git.run(["clone", "-q", "--filter=blob:none", f"file://{r.remote}", str(clone)])
    git.run(["config", "user.name", "Dev"], cwd=clone)
    git.run(["config", "user.email", "dev@example.invalid"], cwd=clone)
    commit(clone, "work1.txt", "one\n", "work one")
    cmap = publish(r, clone)
    git.run(["fetch", "-q", "--prune", "--force", "origin", "+refs/heads/*:refs/remotes/origin/*"], cwd=clone)
    assert cli("migrate", "--commit-map", str(cmap), cwd=clone).returncode == 0
    proc = cli("migrate", "--finish", "--commit-map", str(cmap), cwd=clone)
    assert proc.returncode == 1 and "promisor packs" in proc.stderr, proc.stderr
    fetch = proc.stderr.split("git -C fresh fetch ", 1)[1].split(")", 1)[0]
    fresh = tmp_path / "fresh"
    git.run(["clone", "-q", f"file://{r.remote}", str(fresh)])  # not hard links to the unpruned remote
    subprocess.run(f"git -C {fresh} fetch -q {fetch}", shell=True, check=True)
    assert git.out(["log", "-1", "--format=%s", "local/main"], cwd=fresh) == "work one"
    assert not git.objects.present(fresh, r.first_changed_commits)
