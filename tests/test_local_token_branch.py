"""A collaborator's own branch named with the token: pasting the notice renames it, and no trace is left.

The purge renames ``fix/<token>`` on the server. Dana cloned before and has the branch checked out with
an unpushed commit, a stash made on it and a local tag named with the token. She pastes the notice's
"keep your clone" block into bash: her branch ends up as ``fix/redacted-<sha12>`` tracking the renamed
server branch, with her commit, and nothing in her ``.git`` (refs, reflogs, config, objects) holds
the token any more.
"""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import pytest

from sanitize import git
from sanitize.collaborator.notify import notify
from sanitize.purge.approval import approve
from sanitize.purge.plan import make_plan
from sanitize.purge.push import push
from sanitize.purge.rewrite import rewrite
from sanitize.scan.engine import scan_repository
from sanitize.workdir import Workdir
from tests.test_collaborator_procedure import bash, code_block, commit, fake, identity, save_attachments


def _everything_in(gitdir: Path) -> bytes:
    """Every file of a git directory, loose objects inflated, plus every object git can list."""
    data = b""
    for f in gitdir.rglob("*"):
        if not f.is_file():
            continue
        raw = f.read_bytes()
        if "objects" in f.relative_to(gitdir).parts and f.parent.name != "pack" and f.parent.name != "info":
            try:
                raw = zlib.decompress(raw)
            except zlib.error:
                pass
        data += raw + str(f).encode()
    return data + git.run(["cat-file", "--batch-all-objects", "--batch"], cwd=gitdir).stdout


@pytest.mark.parametrize(("content_secret", "token_is_default"), [(True, False), (False, False), (False, True)],
                         ids=["with-a-content-secret", "only-the-name", "the-server-s-default-branch"])
def test_pasting_the_notice_renames_a_local_branch_named_with_the_token(tmp_path: Path, content_secret: bool,
                                                                        token_is_default: bool) -> None:
    rng = random.Random(1516)
    token, key = fake(rng, "ghp_", 36), fake(rng, "ghp_", 36)
    origin = tmp_path / "origin"
    git.run(["init", "-q", "-b", "main", str(origin)])
    identity(origin, "Alice Admin", "alice@example.invalid")
    commit(origin, {"README.md": "# app\n"}, "initial")
    commit(origin, {"deploy.sh": f"export GITHUB_TOKEN={key}\n" if content_secret else "make deploy\n"},
           "deploy script")
    git.run(["checkout", "-q", "-b", f"fix/{token}"], cwd=origin)
    commit(origin, {"fix.txt": "fix\n"}, "the fix")
    git.run(["checkout", "-q", "main"], cwd=origin)
    remote = tmp_path / "remote.git"
    git.run(["clone", "-q", "--bare", str(origin), str(remote)])
    if token_is_default:
        # Dana's clone then has refs/remotes/origin/HEAD -> origin/fix/<token>, which no fetch updates.
        git.run(["symbolic-ref", "HEAD", f"refs/heads/fix/{token}"], cwd=remote)

    clone = tmp_path / "dana"
    git.run(["clone", "-q", str(remote), str(clone)])
    identity(clone, "Dana Dev", "dana@example.invalid")
    git.run(["checkout", "-q", f"fix/{token}"], cwd=clone)  # tracks origin/fix/<token>
    commit(clone, {"fix.txt": "fix\nmore\n"}, "more of the fix")
    git.run(["tag", f"try-{token}"], cwd=clone)
    git.run(["tag", "-a", "-m", f"tried {token}", f"ann-{token}"], cwd=clone)  # local only, annotated
    (clone / "fix.txt").write_text("fix\nmore\nstashed\n")
    (clone / "notes.txt").write_text("untracked notes\n")
    # "WIP on fix/<token>: …", with a third parent "untracked files on fix/<token>: …"
    git.run(["stash", "push", "-q", "--include-untracked"], cwd=clone)
    assert token in git.out(["stash", "list"], cwd=clone)

    findings = tmp_path / "findings.json"
    findings.write_text(scan_repository(str(remote)).to_json())
    plan = make_plan(str(findings), str(tmp_path / "plan.json"))
    workdir = tmp_path / "wd"
    rewrite(str(tmp_path / "plan.json"), str(workdir))
    (tmp_path / "roster.csv").write_text("name,email,role\nDana Dev,dana@example.invalid,dev\n")
    notify(workdir, roster=tmp_path / "roster.csv", deadline="2026-12-24")
    Workdir.open(workdir).set_meta(approval_policy={"allowed_signers": None, "unsigned": True})
    approve(workdir, approver="Alice", digest=plan.digest)
    push(workdir)
    new_ref = next(r for r in git.refs(remote) if r.startswith("refs/heads/fix/"))
    assert token not in new_ref
    kit_doc = json.loads((workdir / "notices" / "publish" / "purged.json").read_text())
    assert kit_doc["names"] and token not in json.dumps(kit_doc)

    notice = (workdir / "notices" / "dana-example-invalid.md").read_text()
    assert "migrate --finish" in notice and "renames" in notice
    home = tmp_path / "home"
    home.mkdir()
    output = ""
    for line in code_block(notice, "## Keep your clone"):
        proc = bash(line, clone, home)
        output += proc.stdout + proc.stderr
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        if line.startswith("mkdir -p "):
            save_attachments(workdir / "notices" / "dana-example-invalid.eml",
                             home / "git-sanitize-kit" / plan.digest[:12])
    assert token not in output and key not in output
    assert "[redacted:" in output  # the rename is reported, redacted

    new_branch = new_ref.removeprefix("refs/heads/")
    assert git.out(["symbolic-ref", "--short", "HEAD"], cwd=clone) == new_branch
    assert git.out(["log", "-1", "--format=%s"], cwd=clone) == "more of the fix"
    assert git.out(["rev-parse", "HEAD~1"], cwd=clone) == git.refs(remote)[new_ref]  # on the rewritten branch
    assert git.out(["rev-parse", "--abbrev-ref", "@{upstream}"], cwd=clone) == f"origin/{new_branch}"
    assert "stashed" in git.out(["stash", "show", "-p"], cwd=clone)
    assert "untracked notes" in git.out(["stash", "show", "-p", "--include-untracked"], cwd=clone)
    tags = git.out(["tag"], cwd=clone).splitlines()
    assert any(t.startswith("try-redacted-") for t in tags) and not any(token in t for t in tags)
    ann = next(t for t in tags if t.startswith("ann-redacted-"))
    assert git.out(["cat-file", "-t", ann], cwd=clone) == "tag"
    assert git.out(["rev-parse", f"{ann}^{{commit}}"], cwd=clone) == git.out(["rev-parse", "HEAD"], cwd=clone)
    # Nothing in the clone's git directory, nor in any object, holds the token any more.
    assert token.encode() not in _everything_in(clone / ".git")
    if token_is_default:
        assert git.out(["symbolic-ref", "refs/remotes/origin/HEAD"], cwd=clone) == f"refs/remotes/origin/{new_branch}"
        assert git.out(["symbolic-ref", "HEAD"], cwd=remote) == new_ref
    for line in code_block(notice, "## Self-check"):
        assert bash(line, clone, home).stdout.startswith("ok:")
    # Her work goes to the renamed branch with a plain push.
    assert bash("git push -q", clone, home).returncode == 0
    assert git.refs(remote)[new_ref] == git.out(["rev-parse", "HEAD"], cwd=clone)
