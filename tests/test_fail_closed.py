"""Fail-closed code: after the purge a fallback default makes the variable required, in all history.

Replacing the leaked literal alone leaves `process.env.JWT_SECRET || "***REMOVED***"`: the app
then runs with a public secret. A real repository is scanned, planned and rewritten; the
rewritten programs are run with real Node, Python and bash: before, they start on the leaked
default; after, they refuse to start without the variable and work with it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.purge import fail_closed
from sanitize.purge.plan import MARKER


def _fake(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def _commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git.run(["add", "-A"], cwd=work)
    git.run(["-c", "user.name=Ann", "-c", "user.email=ann@team.test", "commit", "-q", "-m", message], cwd=work)
    return git.out(["rev-parse", "HEAD"], cwd=work)


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "ADMIN_PASSWORD", "DB_PASSWORD")}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**base, **env}, timeout=60)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_rewritten_programs_refuse_to_start_without_the_variable(tmp_path: Path) -> None:
    jwt, admin, db, token = _fake(1), _fake(2), _fake(3), _fake(4)
    work = tmp_path / "app"
    git.run(["init", "-q", "-b", "main", str(work)])
    first = _commit(work, {
        "server/auth.js": f'const secret = process.env.JWT_SECRET || "{jwt}";\n'
                          'if (!secret) { process.exit(3); }\nconsole.log("auth started");\n',
        "app.py": f'import os\n\nADMIN_PASSWORD = os.environ.get("ADMIN_PASSWORD", "{admin}")\n'
                  'print("app started" if ADMIN_PASSWORD else "no password")\n',
        "run.sh": f': "${{DB_PASSWORD:-{db}}}"\necho "db started"\n',
        "server/legacy.js": f'const token = getEnv("API_TOKEN", "{token}");\n',
    }, "app")
    _commit(work, {"README.md": "# app\n"}, "docs")
    origin = tmp_path / "origin.git"
    git.run(["clone", "-q", "--bare", str(work), str(origin)])

    # Before: each program starts with the leaked default.
    assert _run(["node", "server/auth.js"], work).stdout == "auth started\n"
    assert _run([sys.executable, "app.py"], work).stdout == "app started\n"
    assert _run(["bash", "run.sh"], work).stdout == "db started\n"

    review = tmp_path / "review"
    review.mkdir()
    scan = _cli("scan", str(origin), "-o", str(review / "findings.json"), cwd=tmp_path)
    assert scan.returncode == 1, scan.stderr
    planned = _cli("plan", str(review / "findings.json"), "-o", str(review / "plan.json"), cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads((review / "plan.json").read_text())
    fc = plan["fail_closed"]
    assert fc["names"] == ["ADMIN_PASSWORD", "DB_PASSWORD", "JWT_SECRET"]
    assert {f["path"] for f in fc["fixes"]} == {"server/auth.js", "app.py", "run.sh"}
    assert [(b["path"], b["line"]) for b in fc["by_hand"]] == [("server/legacy.js", 1)]
    md = (review / "plan.md").read_text()
    assert "Made fail closed by the rewrite (3 variable(s))" in md
    assert (f'-ADMIN_PASSWORD = os.environ.get("ADMIN_PASSWORD", "{MARKER}")\n'
            '+ADMIN_PASSWORD = os.environ["ADMIN_PASSWORD"]') in md
    assert "No safe edit: fix by hand (1)" in md and "server/legacy.js:1" in md
    for value in (jwt, admin, db, token):
        assert value not in md and value not in (review / "plan.json").read_text()

    rewrite = _cli("rewrite", str(review / "plan.json"), "--workdir", str(tmp_path / "wd"), cwd=tmp_path)
    assert rewrite.returncode == 0, rewrite.stdout + rewrite.stderr
    after = tmp_path / "after"
    git.run(["clone", "-q", str(tmp_path / "wd" / "mirror.git"), str(after)])

    node = _run(["node", "server/auth.js"], after)
    assert node.returncode != 0 and "JWT_SECRET must be set in the environment" in node.stderr
    assert _run(["node", "server/auth.js"], after, JWT_SECRET=_fake(9)).stdout == "auth started\n"
    py = _run([sys.executable, "app.py"], after)
    assert py.returncode != 0 and "KeyError: 'ADMIN_PASSWORD'" in py.stderr
    assert _run([sys.executable, "app.py"], after, ADMIN_PASSWORD=_fake(10)).stdout == "app started\n"
    sh = _run(["bash", "run.sh"], after)
    assert sh.returncode != 0 and "DB_PASSWORD must be set in the environment" in sh.stderr
    assert _run(["bash", "run.sh"], after, DB_PASSWORD=_fake(11)).stdout == "db started\n"

    # The notices tell every collaborator which variables are now required.
    notified = _cli("notify", "--workdir", str(tmp_path / "wd"), cwd=tmp_path)
    assert notified.returncode == 0, notified.stderr
    notice = (tmp_path / "wd" / "notices" / "ann-team-test.md").read_text()
    assert "it now stops unless these environment variables are set, in every version: `ADMIN_PASSWORD`, " \
           "`DB_PASSWORD`, `JWT_SECRET`" in notice
    assert "Environment variables now required" in (tmp_path / "wd" / "notices" / "team-summary.md").read_text()

    # The fallback no rule can edit holds the push until someone acknowledges it by name.
    wd = str(tmp_path / "wd")
    digest = plan["digest"]
    assert _cli("approve", "--workdir", wd, "--approver", "Dana", "--digest", digest, cwd=tmp_path).returncode == 0
    before = git.refs(origin)
    held = _cli("push", "--workdir", wd, "--allow-unsigned", cwd=tmp_path)
    assert held.returncode == 3, held.stderr
    assert "no safe fail-closed edit (server/legacy.js:1)" in held.stderr
    assert "--ack-code server/legacy.js" in held.stderr
    assert git.refs(origin) == before
    status = json.loads(_cli("status", "--workdir", wd, "--format", "json", cwd=tmp_path).stdout)
    assert status["next"].startswith("approve: 1 hardcoded fallback(s)")
    assert f"--digest {digest}" in status["next"] and "--ack-code server/legacy.js" in status["next"]
    wrong = _cli("approve", "--workdir", wd, "--approver", "Dana", "--digest", digest, "--ack-code", "app.py",
                 cwd=tmp_path)
    assert wrong.returncode == 2 and "lists no fallback without a safe edit there" in wrong.stderr
    acked = _cli("approve", "--workdir", wd, "--approver", "Dana", "--digest", digest, "--ack-code",
                 "server/legacy.js", cwd=tmp_path)
    assert acked.returncode == 0 and "acknowledged, to fix in code after the push: server/legacy.js" in acked.stdout
    pushed = _cli("push", "--workdir", wd, "--allow-unsigned", cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    assert "code-acknowledged" in (tmp_path / "wd" / "audit.log").read_text()

    # Every commit of the history fails closed, not only the tip; the helper nobody can edit keeps the marker.
    commit_map = dict(line.split()[:2] for line in (tmp_path / "wd" / "commit-map").read_text().splitlines()[1:])
    old_auth = git.out(["show", f"{commit_map[first]}:server/auth.js"], cwd=after)
    assert "throw new Error" in old_auth and MARKER not in old_auth
    assert git.out(["show", "HEAD:server/legacy.js"], cwd=after) == f'const token = getEnv("API_TOKEN", "{MARKER}");'
    reachable = subprocess.run(["git", "log", "--all", "-p"], cwd=after, capture_output=True, check=True).stdout
    for value in (jwt, admin, db, token):
        assert value.encode() not in reachable


@pytest.mark.parametrize("rule", fail_closed.RULES, ids=lambda r: r.id)
def test_each_rule_turns_its_example_into_a_required_variable(rule: fail_closed.FailClosedRule) -> None:
    before = rule.example.encode()
    after = fail_closed.apply(before)
    assert MARKER.encode() not in after, after
    name = next(e.name for e in fail_closed.edits_at(before, 1) if e.rule == rule.id)
    assert name is not None and name.encode() in after
    assert fail_closed.apply(before, ["SOME_OTHER_NAME"]) == before, "only the planned variables change"
    assert fail_closed.apply(after) == after, "applying twice changes nothing"


def test_a_fallback_to_something_else_than_the_marker_is_left_alone() -> None:
    text = b'const a = process.env.A || "dev";\nx = os.environ.get("B", "fine")\n'
    assert fail_closed.apply(text) == text


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK")
def test_java_optional_fallback_fails_closed(tmp_path: Path) -> None:
    src = ('import java.util.Optional;\npublic class App { public static void main(String[] a) {\n'
           f'  String s = Optional.ofNullable(System.getenv("JWT_SECRET")).orElse("{MARKER}");\n'
           '  System.out.println("started"); } }\n')
    (tmp_path / "App.java").write_bytes(fail_closed.apply(src.encode(), ["JWT_SECRET"]))
    without = _run(["java", "App.java"], tmp_path)
    assert without.returncode != 0 and "JWT_SECRET must be set in the environment" in without.stderr
    assert _run(["java", "App.java"], tmp_path, JWT_SECRET=_fake(5)).stdout == "started\n"
