"""A token in a name: a branch, a tag, a path component, an author name and an email.

The whole purge runs on a repository whose secrets live only in names (plus one ordinary content
secret under a token-named directory), then every file under the workdir, every stream of every
step and everything the remote serves is searched for the tokens. The purge must end with the
remote holding no ref, path or identity with a token, and say which redacted name replaced which.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.faults import FAULT_ENV

SECRET_BEARING = {"backup.bundle", "plan.secrets"}
# Where _build plants a token: names, an identity, a tag message and a note.
PLACES = ("branch", "tag", "path", "author", "email", "tagger", "message", "note", "light")


def _token(rng: random.Random) -> str:
    # GitHub's classic personal access token shape: ghp_ and 36 alphanumerics (fake, made at run time).
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "GIT_AUTHOR_NAME": "Ana Ops", "GIT_AUTHOR_EMAIL": "ana@aurora.test",
            "GIT_COMMITTER_NAME": "Ana Ops", "GIT_COMMITTER_EMAIL": "ana@aurora.test", **(env or {})}
    return subprocess.run(["git", *args], cwd=repo, env=full, check=True, capture_output=True, text=True).stdout


def _commit(repo: Path, files: dict[str, str], message: str, env: dict[str, str] | None = None) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        _git(repo, "add", "--", name)
    _git(repo, "commit", "-q", "-m", message, env=env)


def _build(base: Path, tokens: dict[str, str], aws_key: str) -> Path:
    repo = base / "src"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, {"README.md": "# aurora\n"}, "init")
    # A ref whose commits the purge does not change: renamed only (outside git-filter-repo's export).
    _git(repo, "tag", f"base-{tokens['light']}")
    # A content secret and a secret-bearing file inside the token-named directory, too.
    _commit(repo, {f"keys/{tokens['path']}/notes.md": "rotate me\n",
                   f"keys/{tokens['path']}/settings.ini": f"[aws]\naws_access_key_id = {aws_key}\n",
                   f"keys/{tokens['path']}/.env": "APP_MODE=prod\n"}, "add notes")
    _commit(repo, {"CHANGELOG.md": "0.1\n"}, "changelog",
            env={"GIT_AUTHOR_NAME": tokens["author"], "GIT_AUTHOR_EMAIL": f"{tokens['email']}@aurora.test"})
    _git(repo, "branch", f"feature/{tokens['branch']}")
    _git(repo, "tag", "-a", f"release-{tokens['tag']}", "-m", f"release, deploy key {tokens['message']}",
         env={"GIT_COMMITTER_NAME": tokens["tagger"]})
    _git(repo, "notes", "add", "-m", f"ci token {tokens['note']}", "HEAD~1")
    _git(repo, "checkout", "-q", f"feature/{tokens['branch']}")
    _commit(repo, {"feature.txt": "wip\n"}, "wip on the feature")
    _git(repo, "checkout", "-q", "main")
    _commit(repo, {"more.txt": "more\n"}, "more")
    origin = base / "origin.git"
    subprocess.run(["git", "clone", "-q", "--mirror", "--no-local", str(repo), str(origin)], check=True)
    return origin


@pytest.mark.timeout(600)
def test_a_token_in_a_name_never_reaches_any_output_and_leaves_the_remote(tmp_path: Path) -> None:
    rng = random.Random(1515)
    tokens = {k: _token(rng) for k in PLACES}
    aws_key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    origin = _build(tmp_path, tokens, aws_key)
    workdir = tmp_path / "wd"
    (tmp_path / "roster.csv").write_text("name,email,role\nJordan Lee,jordan@aurora.test,reviewer\n")
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    streams: list[tuple[str, str]] = []

    def cli(*args: str, expect: int = 0) -> str:
        proc = subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)
        streams.append((" ".join(args[:2]), proc.stdout + proc.stderr))
        assert proc.returncode == expect, f"{args[0]}: exit {proc.returncode}: {proc.stderr[-2000:]}"
        return proc.stdout

    for fmt in ("json", "sarif", "markdown", "text"):
        cli("scan", str(origin), "--format", fmt, expect=1)
    cli("scan", str(origin), "--format", "json", "-o", "findings.json", expect=1)
    findings = (tmp_path / "findings.json").read_text()
    kinds = set(re.findall(r'"kind":"([a-z-]+)"', findings))
    assert {"ref-name", "path-name", "identity", "content"} <= kinds, kinds
    cli("plan", "findings.json", "-o", "plan.json")
    plan_md = (tmp_path / "plan.md").read_text()
    assert "refs/heads/feature/redacted-" in plan_md and "refs/tags/release-redacted-" in plan_md
    assert "keys/redacted-" in plan_md
    cli("rewrite", "plan.json", "--workdir", str(workdir))
    cli("notify", "--workdir", str(workdir), "--roster", "roster.csv", "--deadline", "2026-12-01")
    cli("status", "--workdir", str(workdir))
    cli("push", "--workdir", str(workdir), "--remote", str(origin), "--allow-unsigned", expect=3)
    digest = re.search(r'"digest": "([0-9a-f]{64})"', (tmp_path / "plan.json").read_text()).group(1)
    cli("approve", "--workdir", str(workdir), "--approver", "Dana Reyes", "--digest", digest)
    cli("push", "--workdir", str(workdir), "--remote", str(origin), "--allow-unsigned", "--dry-run")
    cli("push", "--workdir", str(workdir), "--remote", str(origin), "--allow-unsigned", "--gc-remote")
    cli("verify", "--workdir", str(workdir), "--remote", str(origin))
    cli("status", "--workdir", str(workdir), "--format", "json")

    needles = [t.encode() for t in (*tokens.values(), aws_key)]
    # A file name or slug may fold case and turn "_" into "-": search the folded forms as well.
    folded = [n.lower().replace(b"_", b"-") for n in needles]

    def leaks(data: bytes) -> list[str]:
        low = data.lower().replace(b"_", b"-")
        return [k for k, n, f in zip((*tokens, "aws"), needles, folded, strict=True) if n in data or f in low]

    for what, text in streams:
        assert not leaks(text.encode()), f"{leaks(text.encode())} reached the output of {what}"
    written = [f for f in tmp_path.rglob("*") if f.is_file() and not f.is_symlink()
               and not {"origin.git", "src"} & set(f.relative_to(tmp_path).parts)
               and "objects" not in f.relative_to(tmp_path).parts]
    assert any(f.suffix == ".eml" for f in written) and any(f.name == "ref-map" for f in written)
    for f in written:
        if f.name in SECRET_BEARING:
            continue
        assert not leaks(f.read_bytes()) and not leaks(str(f).encode()), f"{leaks(f.read_bytes())} in {f}"

    # The artifacts that carry the new kinds still validate against the shipped schemas.
    from jsonschema import Draft202012Validator

    from sanitize.artifacts.schemas import schema_text

    state = json.loads((workdir / "state.json").read_text())
    for name, doc in (("findings", json.loads(findings)), ("plan", json.loads((tmp_path / "plan.json").read_text())),
                      ("rewrite-report", json.loads((workdir / "rewrite-report.json").read_text())),
                      ("rewrite-record", state["stages"]["rewrite"])):
        errors = [e.message for e in Draft202012Validator(json.loads(schema_text(name))).iter_errors(doc)]
        assert not errors, (name, errors[:3])

    # The notices say which new name replaced which redacted old one.
    notices = "".join(p.read_text() for p in (workdir / "notices").rglob("*.md"))
    assert re.search(r"refs/heads/feature/\[redacted:[0-9a-f]{12}\].*refs/heads/feature/redacted-[0-9a-f]{12}",
                     notices), notices[:3000]

    # The remote: no ref, path, identity or object holds a token; the renamed refs are there.
    remote: dict[str, bytes] = {
        "identities": subprocess.run(["git", "-C", str(origin), "log", "--all", "--format=%an%ae%cn%ce"],
                                     capture_output=True, check=True).stdout,
        "refs": subprocess.run(["git", "-C", str(origin), "for-each-ref"], capture_output=True, check=True).stdout,
        "objects": subprocess.run(["git", "-C", str(origin), "cat-file", "--batch-all-objects", "--batch"],
                                  capture_output=True, check=True).stdout,
    }
    refs = git.refs(origin)
    assert any(r.startswith("refs/heads/feature/redacted-") for r in refs), refs
    assert any(r.startswith("refs/tags/release-redacted-") for r in refs), refs
    base = next(r for r in refs if r.startswith("refs/tags/base-redacted-"))
    assert refs[base] == subprocess.run(["git", "-C", str(tmp_path / "src"), "rev-list", "--max-parents=0", "main"],
                                        capture_output=True, text=True, check=True).stdout.strip()  # same commit
    trees = b"".join(subprocess.run(["git", "-C", str(origin), "ls-tree", "-r", "--name-only", r],
                                    capture_output=True, check=True).stdout for r in refs)
    assert b"keys/redacted-" in trees and b"/.env" not in trees
    assert "refs/notes/commits" in refs
    remote["paths"] = trees
    for what, data in remote.items():
        assert not leaks(data), f"{leaks(data)} still in the remote's {what}"
    mirror_objects = subprocess.run(["git", "-C", str(workdir / "mirror.git"), "cat-file", "--batch-all-objects",
                                     "--batch"], capture_output=True, check=True).stdout
    assert not leaks(mirror_objects)


def test_redacted_names_round_trip_and_never_hold_the_value() -> None:
    from sanitize.names import Redactor, is_shown, to_renamed
    from sanitize.secret import Secret

    value = Secret(_token(random.Random(7)))
    red = Redactor([value])
    real = f"refs/heads/fix/{value.reveal()}"
    shown = red.show(real)
    assert value.reveal() not in shown and is_shown(shown)
    assert red.reveal(shown) == real
    new = red.rename(real.encode()).decode()
    assert new == to_renamed(shown) == f"refs/heads/fix/redacted-{value.sha256[:12]}"
    assert subprocess.run(["git", "check-ref-format", new]).returncode == 0
    assert subprocess.run(["git", "check-ref-format", shown]).returncode != 0  # never a real ref name
    assert Redactor([]).reveal(shown) == shown  # without the value, a shown name stays shown


def test_a_name_finding_survives_the_findings_file(tmp_path: Path) -> None:
    from sanitize.scan.report import Finding, ScanReport

    f = Finding(rule="github.token", kind="ref-name", path=None, blob=None, commit="a" * 40, line=None,
                secret_sha256="b" * 64, preview="ghp_", refs=("refs/heads/[redacted:bbbbbbbbbbbb]",),
                context="source", confidence="high", name="refs/heads/[redacted:bbbbbbbbbbbb]")
    report = ScanReport(source="x", refs={"refs/heads/[redacted:bbbbbbbbbbbb]": "a" * 40}, findings=[f])
    (tmp_path / "f.json").write_text(report.to_json())
    back = ScanReport.load(tmp_path / "f.json").findings[0]
    assert back == f and back.place == "<ref-name refs/heads/[redacted:bbbbbbbbbbbb]>"


def test_verify_fails_while_the_remote_still_has_the_named_ref(tmp_path: Path) -> None:
    rng = random.Random(99)
    tokens = {k: _token(rng) for k in PLACES}
    origin = _build(tmp_path, tokens, "AKIA" + "".join(rng.choice(string.ascii_uppercase) for _ in range(16)))
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)

    assert cli("scan", str(origin), "-o", "findings.json").returncode == 1
    named = next(f for f in json.loads((tmp_path / "findings.json").read_text())["findings"] if f["kind"] == "ref-name")
    refused = cli("plan", "findings.json", "-o", "plan.json", "--drop", named["id"])
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "cannot be kept" in refused.stderr and not (tmp_path / "plan.json").exists()
    assert cli("plan", "findings.json", "-o", "plan.json").returncode == 0
    assert cli("rewrite", "plan.json", "--workdir", "wd").returncode == 0
    # Not pushed: the remote still lists the token as a ref name, path and author.
    proc = cli("verify", "--workdir", "wd", "--remote", str(origin))
    assert proc.returncode == 1, proc.stderr
    assert "[redacted:" in proc.stderr
    out = (proc.stdout + proc.stderr).encode()
    assert not any(t.encode() in out for t in tokens.values())


def test_the_playbook_purges_names_to_a_clean_remote_without_printing_them(tmp_path: Path) -> None:
    rng = random.Random(4242)
    tokens = {k: _token(rng) for k in PLACES}
    origin = _build(tmp_path, tokens, "AKIA" + "".join(rng.choice(string.ascii_uppercase) for _ in range(16)))
    (tmp_path / "roster.csv").write_text("name,email,role\nJordan Lee,jordan@aurora.test,reviewer\n")
    (tmp_path / "purge.yml").write_text(
        "source: ./origin.git\nworkdir: ./wd\napprovals: {required: 1, unsigned: true}\n"
        'notify: {roster: roster.csv, deadline: "2026-12-01"}\n')
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    outputs: list[str] = []

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)
        outputs.append(proc.stdout + proc.stderr)
        return proc

    assert cli("run", "purge.yml").returncode == 3
    status = json.loads(cli("status", "--workdir", "wd", "--format", "json").stdout)
    assert cli("approve", "--workdir", "wd", "--approver", "Dana Reyes",
               "--digest", status["plan_digest"]).returncode == 0
    # Pushed, verified and guarded; the run then waits for the leaked tokens to be revoked at GitHub (exit 1).
    last = cli("run", "purge.yml")
    stages = json.loads(cli("status", "--workdir", "wd", "--format", "json").stdout)["stages"]
    assert {n: stages[n]["status"] for n in ("push", "verify", "guard")} == dict.fromkeys(
        ("push", "verify", "guard"), "done"), last.stderr
    refs = git.refs(origin)
    assert any(r.startswith("refs/heads/feature/redacted-") for r in refs), refs
    needles = [t.encode() for t in tokens.values()]
    for text in outputs:
        assert not any(n in text.encode() for n in needles)
    for f in (tmp_path / "wd").rglob("*"):
        if f.is_file() and f.name not in SECRET_BEARING and "objects" not in f.parts:
            assert not any(n in f.read_bytes() for n in needles), f
    # What any client gets (the server keeps unreachable old objects until its own gc: verify says so).
    clone = tmp_path / "fresh.git"
    subprocess.run(["git", "clone", "-q", "--mirror", "--no-local", str(origin), str(clone)], check=True)
    remote = subprocess.run(["git", "-C", str(clone), "cat-file", "--batch-all-objects", "--batch"],
                            capture_output=True, check=True).stdout
    assert not any(n in remote + "".join(refs).encode() for n in needles)


def test_pre_push_refuses_a_branch_named_with_a_token(tmp_path: Path) -> None:
    token = _token(random.Random(31))
    repo, remote = tmp_path / "work", tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\nexec {sys.executable} -m sanitize.cli scan --pre-push --format text\n")
    hook.chmod(0o755)
    _commit(repo, {"a.txt": "a\n"}, "a")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    push = subprocess.run(["git", "push", "-q", str(remote), "main"], cwd=repo, env=env, capture_output=True, text=True)
    assert push.returncode == 0, push.stderr
    _commit(repo, {"b.txt": "b\n"}, "b")
    refused = subprocess.run(["git", "push", str(remote), f"main:refs/heads/fix/{token}"], cwd=repo, env=env,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "ref-name" in refused.stdout + refused.stderr, refused.stderr
    assert token not in refused.stdout + refused.stderr
    assert not git.refs(remote).keys() - {"refs/heads/main"}
