"""A small origin + bare remote + rewritten workdir, built by hand in the contract's exact shape.

The coordination stages (notify, approve, push, verify, guard, migrate) read only
what rewrite leaves in the workdir (prompts/contract.md): plan.json (+ digest),
plan.secrets, mirror.git (rewritten), backup.bundle, commit-map, ref-map and the
``rewrite`` stage detail in state.json. This builder produces exactly that by
running the ``git filter-repo`` CLI on a mirror copy, so these tests do not
depend on the plan/rewrite implementation. Secrets are generated at run time.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sanitize import git
from sanitize.purge.plan import compute_digest, secret_line
from sanitize.secret import preview_of, sha256_hex
from sanitize.workdir import Workdir, write_private

ZERO = "0" * 40
AUTHORS = (("Alice Admin", "alice@example.invalid"), ("Bob Builder", "bob@example.invalid"),
           ("Carol Coder", "carol@example.invalid"))
FILTER_REPO = str(Path(sys.executable).parent / "git-filter-repo")


@dataclass(frozen=True)
class RewrittenWorkdir:
    """Everything a coordination test needs to know about the built fixture."""

    origin: Path                 # non-bare work repo the remote was cloned from (old history)
    remote: Path                 # bare remote: the plan's source and the push target
    workdir: Path                # the purge workdir, stage "rewrite" done
    secrets: tuple[str, ...]     # planted values (test-only: grep every output for them)
    digest: str
    tips_at_scan: dict[str, str]
    rewritten_tips: dict[str, str]
    deleted_refs: tuple[str, ...]
    first_changed_commits: tuple[str, ...]
    purged_blobs: tuple[str, ...]
    hidden_refs: tuple[str, ...]


def _fake(rng: random.Random, prefix: str, n: int = 24) -> str:
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _commit(repo: Path, who: int, message: str, n: int, files: dict[str, str | None]) -> str:
    for name, content in files.items():
        p = repo / name
        if content is None:
            git.run(["rm", "-q", name], cwd=repo)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
        git.run(["add", name], cwd=repo)
    name, email = AUTHORS[who]
    date = f"2026-01-{n:02d}T10:00:00+00:00"
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git.run(["commit", "-q", "-m", message], cwd=repo, env=env)
    return git.out(["rev-parse", "HEAD"], cwd=repo)


def _blobs(repo: Path) -> set[str]:
    listing = git.out(["rev-list", "--objects", "--all"], cwd=repo)
    ids = "\n".join(line.split(" ", 1)[0] for line in listing.splitlines()) + "\n"
    checked = git.out(["cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=repo, input=ids.encode())
    return {line.split()[0] for line in checked.splitlines() if line.endswith(" blob")}


def plan_digest(plan: dict[str, object], secrets_blob: bytes) -> str:
    """The plan's own digest (what `load_plan` checks): canonical plan JSON + plan.secrets bytes."""
    return compute_digest({k: v for k, v in plan.items() if k != "digest"}, secrets_blob)


def build_rewritten_workdir(base: Path, *, seed: int = 7, pull_refs: bool = False) -> RewrittenWorkdir:
    """Origin with 3 authors, a leaked .env and a password in config.yml; rewrite done in base/wd."""
    rng = random.Random(seed)
    token = _fake(rng, "tok_")
    password = _fake(rng, "pw", 16)
    origin = base / "origin"
    git.run(["init", "-q", "-b", "main", str(origin)])
    _commit(origin, 0, "initial", 1, {"README.md": "# demo\n", "app.py": "print('hi')\n"})
    c2 = _commit(origin, 1, "add config", 2, {".env": f"API_TOKEN={token}\n",
                                               "config.yml": f"db:\n  user: app\n  password: {password}\n"})
    git.run(["tag", "-a", "v1", "-m", "release one", c2], cwd=origin,
            env={"GIT_COMMITTER_NAME": AUTHORS[0][0], "GIT_COMMITTER_EMAIL": AUTHORS[0][1],
                 "GIT_COMMITTER_DATE": "2026-01-02T11:00:00+00:00"})
    git.run(["branch", "leak"], cwd=origin)
    _commit(origin, 0, "tweak app", 3, {"app.py": "print('hello')\n"})
    git.run(["checkout", "-q", "-b", "feature"], cwd=origin)
    _commit(origin, 2, "feature work", 4, {"feature.py": "X = 1\n"})
    git.run(["checkout", "-q", "main"], cwd=origin)
    _commit(origin, 1, "notes", 5, {"notes.md": "notes\n"})

    remote = base / "remote.git"
    git.run(["clone", "-q", "--bare", str(origin), str(remote)])
    if pull_refs:
        git.run(["update-ref", "refs/pull/1/head", git.out(["rev-parse", "refs/heads/feature"], cwd=remote)],
                cwd=remote)
        # Like a forge: pull-request refs are readable but nobody may update them.
        git.run(["config", "receive.hideRefs", "refs/pull"], cwd=remote)
    tips_at_scan = git.refs(remote)

    wd = Workdir.create(base / "wd")
    git.run(["clone", "-q", "--mirror", "--no-local", str(remote), str(wd.mirror)])
    git.run(["bundle", "create", "-q", str(wd.bundle), "--all"], cwd=wd.mirror)
    wd.bundle.chmod(0o600)
    old_blobs = _blobs(wd.mirror)
    replace = base / "replace.txt"
    write_private(replace, f"{password}==>***REMOVED***\n".encode())
    subprocess.run([FILTER_REPO, "--force", "--quiet", "--invert-paths", "--path", ".env",
                    "--replace-text", str(replace)], cwd=wd.mirror, check=True, capture_output=True)
    replace.unlink()
    shutil.copy(wd.mirror / "filter-repo" / "commit-map", wd.commit_map)
    shutil.copy(wd.mirror / "filter-repo" / "ref-map", wd.ref_map)
    # The plan drops the branch that only ever existed to carry the leak.
    git.run(["update-ref", "-d", "refs/heads/leak"], cwd=wd.mirror)
    git.run(["reflog", "expire", "--expire=now", "--all"], cwd=wd.mirror)
    git.run(["gc", "-q", "--prune=now"], cwd=wd.mirror)
    rewritten_tips = git.refs(wd.mirror)
    deleted = sorted(set(tips_at_scan) - set(rewritten_tips))
    purged = sorted(old_blobs - _blobs(wd.mirror))

    cmap: dict[str, str] = {}
    for line in wd.commit_map.read_text().splitlines()[1:]:
        old, new = line.split()
        cmap[old] = new
    old_commits = sorted(o for o, n in cmap.items() if o != n)
    first_changed: dict[str, str] = {}
    for ref, tip in tips_at_scan.items():
        order = git.out(["rev-list", "--reverse", "--topo-order", tip], cwd=origin if not ref.startswith(
            "refs/pull/") else remote).splitlines()
        for sha in order:
            if cmap.get(sha, sha) != sha:
                first_changed[ref] = sha
                break
    first_changed_commits = sorted(set(first_changed.values()))

    plan = {
        "schema": "git-sanitize/plan/v1", "source": str(remote), "tips": tips_at_scan,
        "actions": {
            "delete_paths": [{"path": ".env", "finding_ids": ["f-env"]}],
            "replace": [{"secret_sha256": sha256_hex(password), "preview": preview_of(password),
                         "rule": "default.password", "finding_ids": ["f-pw"]}],
            "messages": [],
        },
        "fix_in_code": [{"path": "config.yml", "line": 3, "rule": "default.password", "ref": "refs/heads/main"}],
        # The summary in the shape the first plans wrote it (no held-back or signature counts yet).
        "summary": {"findings": 2, "findings_planned": 2, "dropped_findings": [], "kept_paths": [], "delete_paths": 1,
                    "replacements": 1, "messages": 0, "fix_in_code": 1, "commits_total": len(cmap),
                    "commits_changing": sum(1 for old, new in cmap.items() if old != new),
                    "refs_changing": {r: 1 for r in first_changed}, "refs_total": len(tips_at_scan),
                    "short_values": 0},
    }
    secrets_blob = secret_line(password)  # filter-repo's --replace-text line, as plan.secrets holds it
    plan["digest"] = digest = plan_digest(plan, secrets_blob)
    (wd.plan).write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_private(wd.plan_secrets, secrets_blob)
    wd.set_meta(approval_policy={"allowed_signers": None, "unsigned": True})  # as a playbook would record it
    wd.record("rewrite", "done", plan_digest=digest, source=str(remote), tips_at_scan=tips_at_scan,
              rewritten_tips=rewritten_tips, deleted_refs=deleted, first_changed=first_changed,
              old_commits=old_commits, purged_blobs=purged, first_changed_commits=first_changed_commits)
    return RewrittenWorkdir(
        origin=origin, remote=remote, workdir=wd.root, secrets=(token, password), digest=digest,
        tips_at_scan=tips_at_scan, rewritten_tips=rewritten_tips, deleted_refs=tuple(deleted),
        first_changed_commits=tuple(first_changed_commits), purged_blobs=tuple(purged),
        hidden_refs=tuple(r for r in tips_at_scan if r.startswith("refs/pull/")),
    )


@pytest.fixture
def rewritten_workdir(tmp_path: Path) -> RewrittenWorkdir:
    """A bare remote with old history and a workdir whose rewrite stage is done."""
    return build_rewritten_workdir(tmp_path)


@pytest.fixture
def rewritten_workdir_with_pulls(tmp_path: Path) -> RewrittenWorkdir:
    """As ``rewritten_workdir``, plus a forge-like hidden, read-only ``refs/pull/1/head``."""
    return build_rewritten_workdir(tmp_path, pull_refs=True)
