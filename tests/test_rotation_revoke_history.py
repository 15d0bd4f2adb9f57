"""``rotate --revoke --workdir``: provider tokens the scan found only in the git history, revoked and proven.

The usual incident: a GitHub and a Slack token committed once, in no store. A real repository is scanned
and planned through the CLI into a 0700 workdir (plan.secrets holds the values); a real OpenBao holds an
unrelated store secret; the providers are the stand-in of ``tests/plugins/provider_apis.py``. Tokens are
generated from a seed; every output and the audit log are searched for them, and the workdir is checked
byte for byte to be unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from sanitize import git
from sanitize.artifacts.schemas import schema_text
from sanitize.secret import Secret
from tests.test_rotation_revoke import assert_no_token, env_for, outcomes, revoke_records, run_cli, summary, tokens

pytestmark = pytest.mark.services

ALNUM = string.ascii_letters + string.digits


def _commit(repo: Path, msg: str, files: dict[str, str | None]) -> None:
    for name, content in files.items():
        if content is None:
            git.run(["rm", "-q", name], cwd=repo)
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content, encoding="utf-8")
        git.run(["add", name], cwd=repo)
    git.run(["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", msg], cwd=repo,
            env={"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"})


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=240, check=False, stdin=subprocess.DEVNULL)


def _snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file of the workdir: content hash, mode, mtime (nothing may change)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        out[str(p.relative_to(root))] = (digest, st.st_mode, st.st_mtime_ns)
    return out


class Incident:
    """A repo whose history once held a GitHub and a Slack token, scanned and planned into a workdir."""

    def __init__(self, tmp: Path, seed: int) -> None:
        planted = tokens(seed)
        self.planted = {"github": planted["github"], "slack": planted["slack"]}
        self.repo = tmp / "app"
        git.run(["init", "-q", "-b", "main", str(self.repo)])
        _commit(self.repo, "init", {"README.md": "# app\n"})
        _commit(self.repo, "ci", {"ci/deploy.env": f"GITHUB_TOKEN={self.planted['github']}\n"})
        _commit(self.repo, "notify", {"ops/notify.py": f'SLACK_BOT_TOKEN = "{self.planted["slack"]}"\n'})
        _commit(self.repo, "use the CI secret store", {"ci/deploy.env": None, "ops/notify.py": None})
        self.workdir = tmp / "purge"
        self.workdir.mkdir(mode=0o700)
        scan = _cli("scan", str(self.repo), "--format", "json", "-o", str(self.workdir / "findings.json"), cwd=tmp)
        assert scan.returncode == 1, scan.stderr
        plan = _cli("plan", str(self.workdir / "findings.json"), "-o", str(self.workdir / "plan.json"), cwd=tmp)
        assert plan.returncode == 0, plan.stderr
        findings = json.loads((self.workdir / "findings.json").read_text())["findings"]
        by_sha = {f["secret_sha256"]: f for f in findings}
        self.names = {}
        for p, token in self.planted.items():
            f = by_sha[Secret(token).sha256]
            self.names[p] = f"{f['rule']}:{f['secret_sha256'][:8]}"
        self.before = _snapshot(self.workdir)

    def unchanged(self) -> bool:
        return _snapshot(self.workdir) == self.before

    def texts(self, tmp: Path, *procs: subprocess.CompletedProcess[str]) -> list[str]:
        """Every output of the runs and the audit log (where no planted token may appear)."""
        out = [t for p in procs for t in (p.stdout, p.stderr)]
        return [*out, (tmp / "audit.log").read_text()]


def _config(vault: Any, tmp: Path, seed: int) -> Path:
    """rotation.yml with one unrelated store secret: the history's tokens are in no store."""
    value = "".join(random.Random(seed).choice(ALNUM) for _ in range(32))
    vault.client.secrets.kv.v2.create_or_update_secret(path="app/session", secret={"SESSION_KEY": value})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"}, "audit_log": "audit.log",
           "lock_dir": "locks", "secrets": [{"name": "SESSION_KEY", "path": "app/session", "key": "SESSION_KEY"}]}
    config = tmp / "rotation.yml"
    config.write_text(yaml.safe_dump(doc))
    return config


@pytest.fixture
def incident(tmp_path: Path) -> Incident:
    return Incident(tmp_path, seed=1251)


def test_history_tokens_are_revoked_at_their_provider_and_proven(vault, provider_apis, incident: Incident,
                                                                 tmp_path: Path) -> None:
    api = provider_apis
    for p, token in incident.planted.items():
        api.issue(p, token)
    config, env = _config(vault, tmp_path, 1), env_for(vault, api)

    proc = run_cli("--config", str(config), "--workdir", str(incident.workdir), "--revoke", "--yes",
                   env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = outcomes(proc)
    for p, token in incident.planted.items():
        o = got[incident.names[p]]
        assert (o["status"], o["state"], o["exposed"]) == ("revoked", "revoked", True)
        assert o["revocation"]["accepted"] is True and o["revocation"]["leaked_refused"] is True
        assert "no configured secret holds it" in o["reason"] and "issue a replacement" in o["reason"]
        assert not api.works(p, token)
    assert "ci/deploy.env" in got[incident.names["github"]]["reason"]
    assert "GET /user with the leaked token answered HTTP 401" in got[incident.names["github"]]["proof"]
    assert "token_revoked" in got[incident.names["slack"]]["proof"]
    assert sorted(summary(proc)["revoked"]) == sorted(incident.names.values())
    validator = Draft202012Validator(json.loads(schema_text("rotation-run")))
    for line in proc.stdout.splitlines():  # every line is the documented rotation-run shape
        assert list(validator.iter_errors(json.loads(line))) == [], line
    # The confirmation names each by its finding, a 4-character preview and where it was found.
    assert f"revoking {incident.names['github']} (ghp_…, a GitHub token, found in the history at " \
           f"ci/deploy.env) at GitHub (" in proc.stderr
    assert "found in the history at ops/notify.py" in proc.stderr
    records = revoke_records(tmp_path)
    assert {r["secret"]: r["proven"] for r in records} == {n: True for n in incident.names.values()}
    assert {r["token_sha256"] for r in records} == {Secret(t).sha256 for t in incident.planted.values()}
    assert incident.unchanged()

    # A later run reads the proof back from the audit log, without the workdir and without asking.
    before = len(api.requests)
    again = run_cli("--config", str(config), "--findings", str(incident.workdir / "findings.json"),
                    env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert {incident.names[p]: "revoked" for p in incident.planted} == \
        {n: o["state"] for n, o in outcomes(again).items() if n in incident.names.values()}
    assert all("proven at " in outcomes(again)[n]["proof"] for n in incident.names.values())
    assert len(api.requests) == before and incident.unchanged()
    assert_no_token(incident.planted, *incident.texts(tmp_path, proc, again))


def test_a_refused_history_revocation_stays_still_live(vault, provider_apis, incident: Incident,
                                                      tmp_path: Path) -> None:
    """--findings inside the workdir implies it; GitHub refuses, Slack accepts: exit 1 naming GitHub's token."""
    api = provider_apis
    api.refuse.add("github")
    api.echo = True  # GitHub's error body repeats the token: it must be redacted before it is kept
    for p, token in incident.planted.items():
        api.issue(p, token)
    config = _config(vault, tmp_path, 2)
    proc = run_cli("--config", str(config), "--findings", str(incident.workdir / "findings.json"), "--revoke",
                   "--yes", env=env_for(vault, api), cwd=tmp_path)
    assert proc.returncode == 1
    got = outcomes(proc)
    gh = got[incident.names["github"]]
    assert gh["state"] == "still-live" and gh["status"] == "not in config"
    assert "did not accept" in gh["reason"] and "still accepts it" in gh["reason"]
    assert "ci/deploy.env" in gh["reason"]
    assert f"--ack {incident.names['github']}" in gh["action"]
    assert "[redacted]" in gh["revocation"]["call"]
    assert got[incident.names["slack"]]["state"] == "revoked"
    assert summary(proc)["still_live"] == [incident.names["github"]]
    assert api.works("github", incident.planted["github"]) and not api.works("slack", incident.planted["slack"])
    assert {r["secret"]: r["proven"] for r in revoke_records(tmp_path)} == \
        {incident.names["github"]: False, incident.names["slack"]: True}
    assert incident.unchanged()
    assert_no_token(incident.planted, *incident.texts(tmp_path, proc))


def test_without_confirmation_nothing_is_sent(vault, provider_apis, incident: Incident, tmp_path: Path) -> None:
    api = provider_apis
    for p, token in incident.planted.items():
        api.issue(p, token)
    config, env = _config(vault, tmp_path, 3), env_for(vault, api)
    wd = str(incident.workdir)

    # No terminal and no --yes: one line, exit 2, nothing sent.
    proc = run_cli("--config", str(config), "--workdir", wd, "--revoke", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--yes" in proc.stderr
    assert api.requests == []

    # Without --revoke the tokens are still live, and the step says how to revoke them.
    plain = run_cli("--config", str(config), "--workdir", wd, env=env, cwd=tmp_path)
    assert plain.returncode == 1
    for p in incident.planted:
        o = outcomes(plain)[incident.names[p]]
        assert o["state"] == "still-live" and "`git-sanitize rotate --revoke --workdir WORKDIR`" in o["action"]
    dry = run_cli("--config", str(config), "--workdir", wd, "--revoke", "--dry-run", env=env, cwd=tmp_path)
    assert "dry run: --revoke would ask to revoke it at Slack" in outcomes(dry)[incident.names["slack"]]["reason"]
    assert api.requests == [] and all(api.works(p, t) for p, t in incident.planted.items())
    assert incident.unchanged()
    assert_no_token(incident.planted, *incident.texts(tmp_path, proc, plain, dry))


def test_a_workdir_others_can_read_is_refused(vault, provider_apis, incident: Incident, tmp_path: Path) -> None:
    config = _config(vault, tmp_path, 4)
    os.chmod(incident.workdir, 0o755)
    try:
        proc = run_cli("--config", str(config), "--workdir", str(incident.workdir), "--revoke", "--yes",
                       env=env_for(vault, provider_apis), cwd=tmp_path)
    finally:
        os.chmod(incident.workdir, 0o700)
    assert proc.returncode == 2 and "chmod 700" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    missing = run_cli("--config", str(config), "--workdir", str(tmp_path / "nowhere"), "--revoke", "--yes",
                      env=env_for(vault, provider_apis), cwd=tmp_path)
    assert missing.returncode == 2 and "no such directory" in missing.stderr
    assert provider_apis.requests == []
