"""Hostile names cannot make a pasted command, a mail header or a notice file do anything else.

The history holds branch names such as ``fix$(touch${IFS}x)``, author names with
``\\r Bcc:`` and commas, HTML and Markdown; the remote and the workdir live under
paths with spaces, ``$()``, backticks and quotes, and a purged path holds a line
break. Every command the notices and the approval hints print is pasted into
bash; none of the injected commands may run.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize import git
from sanitize.collaborator.notify import notify
from sanitize.errors import AwaitingApproval
from sanitize.playbook.runner import gate_instructions, status
from sanitize.purge.plan import make_plan
from sanitize.purge.push import push
from sanitize.purge.rewrite import rewrite
from sanitize.scan.engine import scan_repository
from sanitize.workdir import Workdir

ROOT = Path(__file__).parents[1]
HOSTILE_BRANCHES = ("fix$(touch${IFS}pwned-dollar)", "bt`touch${IFS}pwned-backtick`",
                    "q'$(touch${IFS}pwned-quote)'", 'dq"$(touch${IFS}pwned-dq)"', "semi;touch${IFS}pwned-semi",
                    "amp&&touch${IFS}pwned-amp||x")
HOSTILE_PATH = "conf $(touch pwned-path)\n`touch pwned-nl`/.env"
PEOPLE = (("Eve\rBcc: attacker@evil.invalid", "eve@example.invalid"),
          ("Doe, John", "john@example.invalid"),
          ("Mallory", "mallory@example.invalid,attacker@evil.invalid"),
          ("<img src=x onerror=alert(1)> [click](http://evil.invalid)", "html@example.invalid"),
          ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"))


def fake(rng: random.Random, prefix: str, n: int = 24) -> str:
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def commit_as(repo: Path, who: tuple[str, str], files: dict[str, str], message: str) -> None:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
        git.run(["add", "--", name], cwd=repo)
    env = {"GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1], "GIT_COMMITTER_NAME": who[0],
           "GIT_COMMITTER_EMAIL": who[1]}
    git.run(["commit", "-qm", message], cwd=repo, env=env)


def bash(line: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid"}
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def sh_blocks(markdown: str) -> list[str]:
    """Every command line of every ```sh block, as printed (a quoted word may span lines)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL):
        commands += [line for line in block.splitlines() if line.strip()]
    return commands


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    rng = random.Random(23)
    token, password = fake(rng, "ghp_"), fake(rng, "pw", 16)
    base = tmp_path / "we ird $(touch${IFS}pwned-base) `touch pwned-base2` 'q\""
    base.mkdir()
    origin = base / "origin"
    git.run(["init", "-q", "-b", "main", str(origin)])
    commit_as(origin, PEOPLE[1], {"README.md": "# app\n"}, "initial")
    commit_as(origin, PEOPLE[0], {".env": f"GITHUB_TOKEN={token}\n", HOSTILE_PATH: f"TOKEN={token}\n",
                                  "config.py": f'DB_PASSWORD = "{password}"\n'}, "add config")
    for n, branch in enumerate(HOSTILE_BRANCHES):
        git.run(["checkout", "-q", "-b", branch, "main"], cwd=origin)
        commit_as(origin, PEOPLE[2 + n % 3], {f"b{n}.txt": f"{n}\n"}, f"work {n}")
    git.run(["checkout", "-q", "main"], cwd=origin)
    remote = base / "re mote $(touch${IFS}pwned-remote).git"
    git.run(["clone", "-q", "--bare", str(origin), str(remote)])
    clone = base / "old clone"
    git.run(["clone", "-q", str(remote), str(clone)])
    for branch in HOSTILE_BRANCHES:
        git.run(["branch", "-q", "--track", branch, f"origin/{branch}"], cwd=clone)

    findings = base / "findings.json"
    findings.write_text(scan_repository(str(remote)).to_json())
    make_plan(str(findings), str(base / "plan.json"))
    workdir = base / "wd $(touch${IFS}pwned-wd) `touch pwned-wd2`"
    rewrite(str(base / "plan.json"), str(workdir))
    Workdir.open(workdir).set_meta(approval_policy={"allowed_signers": None, "unsigned": True})  # as a playbook
    home = tmp_path / "home"
    home.mkdir()
    return {"base": base, "remote": remote, "clone": clone, "workdir": workdir, "home": home, "tmp": tmp_path}


def test_every_printed_command_runs_only_itself(hostile: dict[str, Path]) -> None:
    h = hostile
    result = notify(h["workdir"], deadline="2026-12-24 $(touch pwned-deadline)")
    assert {p.email for p in result.not_notified} == {PEOPLE[4][1]}
    commands: list[str] = []
    for md in sorted((h["workdir"] / "notices").glob("*.md")):
        commands += sh_blocks(md.read_text())
    with pytest.raises(AwaitingApproval) as gate:
        push(h["workdir"])
    hint = str(gate.value).split("each approver runs: ", 1)[1]
    commands.append(hint)
    wd = Workdir.open(h["workdir"])
    digest = str(wd.stage("rewrite")["plan_digest"])
    commands += [line.strip() for line in gate_instructions(wd, digest, 0, 1) if "git-sanitize approve" in line]
    commands.append(status(h["workdir"])["next"].split(": ", 1)[1].rsplit(" (", 1)[0])
    assert any("fix$(touch${IFS}pwned-dollar)" in c or "git-sanitize migrate" in c for c in commands)

    commands = list(dict.fromkeys(commands))  # each notice prints the same procedure: paste it once
    scratch = h["tmp"] / "scratch"
    scratch.mkdir()
    ran = 0
    for line in commands:
        cwd = scratch if line.startswith("git clone") else h["clone"]
        proc = bash(line, cwd, h["home"])
        ran += 1
        if line.startswith(("git clone", "git-sanitize approve", "mkdir")):
            assert proc.returncode == 0, (line, proc.stderr)
    assert ran >= 8
    # The clone command cloned the oddly named remote; the approval hint approved in the oddly named workdir.
    assert any(p.is_dir() for p in scratch.iterdir())
    assert list((h["workdir"] / "approvals").glob("*.json"))
    planted = [p for p in h["tmp"].rglob("*") if p.name.startswith("pwned")]
    planted += [p for p in h["home"].rglob("*") if p.name.startswith("pwned")]
    assert planted == []


def test_names_cannot_add_mail_recipients_or_markup(hostile: dict[str, Path]) -> None:
    h = hostile
    notify(h["workdir"])
    notices = h["workdir"] / "notices"
    seen_to = []
    for eml in notices.glob("*.eml"):
        raw = eml.read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Bcc"] is None and msg["Cc"] is None
        addresses = msg["To"].addresses
        assert len(addresses) == 1 and "evil" not in addresses[0].addr_spec
        seen_to.append(addresses[0].addr_spec)
        assert b"\nBcc:" not in raw and b"\rBcc:" not in raw
    assert sorted(seen_to) == sorted(e for _, e in PEOPLE[:4] if "evil" not in e)
    # The comma-address identity gets a notice to read, no mail anyone could misroute; bots get nothing.
    assert list(notices.glob("mallory-*.md")) and not list(notices.glob("mallory-*.eml"))
    assert "no .eml: not a plain address" in (notices / "team-summary.md").read_text()
    assert not list(notices.glob("*dependabot*"))
    summary = (notices / "team-summary.md").read_text()
    assert "dependabot\\[bot\\]" in summary and "Not sent a notice" in summary
    for md in notices.glob("*.md"):
        text = md.read_text()
        assert "<img" not in text and "[click](" not in text
        assert "\r" not in text  # control characters are shown escaped, never raw
    assert "x0dBcc: attacker" in (notices / "eve-example-invalid.md").read_text()
    # A purged path with a line break is shown on one line, inside a code span.
    assert "``conf $(touch pwned-path)\\x0a`touch pwned-nl`/.env``" in summary  # a fence longer than any `-run


def test_roster_with_control_characters_is_refused_and_keeps_the_notices(hostile: dict[str, Path]) -> None:
    h = hostile
    notify(h["workdir"])
    before = {p.name: p.read_bytes() for p in (h["workdir"] / "notices").rglob("*") if p.is_file()}
    roster = h["tmp"] / "roster.csv"
    roster.write_bytes(b'name,email,role\n"Ann\r\nBcc: x@evil.invalid",ann@example.invalid,dev\n')
    proc = subprocess.run([sys.executable, "-m", "sanitize.cli", "notify", "--workdir", str(h["workdir"]),
                           "--roster", str(roster)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "control character" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    after = {p.name: p.read_bytes() for p in (h["workdir"] / "notices").rglob("*") if p.is_file()}
    assert after == before
