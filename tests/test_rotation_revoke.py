"""``rotate --revoke``: leaked GitHub, GitLab and Slack tokens revoked at the provider, and proven refused.

A real OpenBao holds the tokens; the providers are the stand-in of ``tests/plugins/provider_apis.py`` on
127.0.0.1 (their documented endpoints). The CLI runs as an operator runs it. Tokens are built at run time
from a seed; every output and the audit log are searched for them.
"""

from __future__ import annotations

import json
import os
import pty
import random
import select
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from rotation.revocation import parse_revocation, revoke_one
from sanitize.artifacts.schemas import schema_text
from sanitize.secret import Secret

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def tokens(seed: int) -> dict[str, str]:
    """One token per provider, in its documented shape (prefixes joined here so no literal token exists)."""
    rng = random.Random(seed)
    return {"github": "gh" + "p_" + fake(rng, 36),
            "gitlab": "gl" + "pat-" + fake(rng, 20),
            "slack": "xo" + "xb-" + fake(rng, 12, string.digits) + "-" + fake(rng, 12, string.digits) + "-"
                     + fake(rng, 24)}


NAMES = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "slack": "SLACK_BOT_TOKEN"}
KINDS = {"github": "github-token", "gitlab": "gitlab-token", "slack": "slack-token"}


def setup(vault: Any, api: Any, tmp: Path, providers: list[str], seed: int, **top: Any) -> tuple[Path, dict[str, str]]:
    """Store each provider's token in OpenBao, make it live at the fake, write rotation.yml."""
    planted = tokens(seed)
    secrets = []
    for p in providers:
        vault.client.secrets.kv.v2.create_or_update_secret(path=f"ci/{p}", secret={NAMES[p]: planted[p]})
        api.issue(p, planted[p])
        secrets.append({"name": NAMES[p], "path": f"ci/{p}", "key": NAMES[p]})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": "audit.log", "lock_dir": "locks", "secrets": secrets, **top}
    config = tmp / "rotation.yml"
    config.write_text(yaml.safe_dump(doc))
    return config, {p: planted[p] for p in providers}


def env_for(vault: Any, api: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "GIT_SANITIZE_"))}
    return {**env, "VAULT_TOKEN": vault.token, **api.env()}


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=240, check=False, stdin=subprocess.DEVNULL)


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["step"] == "summary"
    return dict(last)


def outcomes(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in summary(proc)["outcomes"]}


def assert_no_token(planted: dict[str, str], *texts: str) -> None:
    for token in planted.values():
        for text in texts:
            assert token not in text


def revoke_records(tmp: Path) -> list[dict[str, Any]]:
    lines = (tmp / "audit.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == "rotation.revoke"]


def test_revoke_yes_revokes_every_provider_and_proves_it(vault, provider_apis, tmp_path: Path) -> None:
    api = provider_apis
    config, planted = setup(vault, api, tmp_path, ["github", "gitlab", "slack"], seed=1201)
    env = env_for(vault, api)

    proc = run_cli("--config", str(config), "--revoke", "--yes", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = outcomes(proc)
    for p, token in planted.items():
        o = got[NAMES[p]]
        assert (o["status"], o["state"], o["kind"]) == ("revoked", "revoked", KINDS[p])
        assert o["revocation"]["accepted"] is True and o["revocation"]["leaked_refused"] is True
        assert not api.works(p, token)  # the fake no longer accepts it: the run did revoke it
        assert "the store still holds the revoked token" in o["reason"]
    assert "GET /user with the leaked token answered HTTP 401" in got["GITHUB_TOKEN"]["proof"]
    assert "auth.test with the leaked token answered HTTP 200" in got["SLACK_BOT_TOKEN"]["proof"]
    assert "token_revoked" in got["SLACK_BOT_TOKEN"]["proof"]
    assert "GET /api/v4/personal_access_tokens/self with the leaked token answered HTTP 401" in \
        got["GITLAB_TOKEN"]["proof"]
    assert sorted(summary(proc)["revoked"]) == sorted(NAMES.values())
    assert "confirmed by --yes" in proc.stderr
    validator = Draft202012Validator(json.loads(schema_text("rotation-run")))
    for line in proc.stdout.splitlines():  # every line is the documented rotation-run shape
        assert list(validator.iter_errors(json.loads(line))) == [], line

    # The documented requests: GitHub's revoke unauthenticated, GitLab's with PRIVATE-TOKEN, Slack's Bearer.
    calls = {(r["provider"], r["method"], r["path"]): r for r in api.requests}
    assert calls[("github", "POST", "/credentials/revoke")]["authorization"] is False
    assert calls[("github", "GET", "/user")]["authorization"] is True
    assert calls[("gitlab", "DELETE", "/api/v4/personal_access_tokens/self")]["private_token"] is True
    assert calls[("slack", "POST", "/auth.revoke")]["authorization"] is True
    assert calls[("slack", "POST", "/auth.test")]["authorization"] is True

    records = revoke_records(tmp_path)
    assert {r["secret"] for r in records if r["proven"]} == set(NAMES.values())
    assert all(r["token_sha256"] == Secret(planted[r["provider"]]).sha256 for r in records)
    end = [json.loads(x) for x in (tmp_path / "audit.log").read_text().splitlines()][-1]
    assert end["event"] == "rotation.end" and sorted(end["revoked"]) == sorted(NAMES.values())

    # Later runs read the proof back: still revoked, nothing asked, nothing sent to the providers.
    before = len(api.requests)
    again = run_cli("--config", str(config), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert {o["state"] for o in outcomes(again).values()} == {"revoked"}
    assert all("proven at " in o["proof"] for o in outcomes(again).values())
    once_more = run_cli("--config", str(config), "--revoke", "--yes", env=env, cwd=tmp_path)
    assert once_more.returncode == 0 and "revoking" not in once_more.stderr
    assert len(api.requests) == before
    assert_no_token(planted, proc.stdout, proc.stderr, again.stdout, again.stderr,
                    (tmp_path / "audit.log").read_text())


@pytest.mark.parametrize("provider", ["github", "gitlab", "slack"])
def test_a_refused_revocation_stays_still_live(vault, provider_apis, tmp_path: Path, provider: str) -> None:
    api = provider_apis
    api.refuse.add(provider)
    api.echo = True  # the error body repeats the token: it must be redacted before it is kept
    config, planted = setup(vault, api, tmp_path, [provider], seed=1202)
    proc = run_cli("--config", str(config), "--revoke", "--yes", env=env_for(vault, api), cwd=tmp_path)
    assert proc.returncode == 1
    o = outcomes(proc)[NAMES[provider]]
    assert o["state"] == "still-live" and o["status"] == "not rotated"
    assert o["revocation"]["accepted"] is False and o["revocation"]["leaked_refused"] is False
    assert "did not accept" in o["reason"] and "still accepts it" in o["reason"]
    assert "--ack " + NAMES[provider] in o["action"]  # the operator's step stays
    assert api.works(provider, planted[provider])
    assert [r["proven"] for r in revoke_records(tmp_path)] == [False]
    if provider != "slack":  # Slack's refusal (revoked: false) has no token to echo
        assert "[redacted]" in o["revocation"]["call"]
    assert_no_token(planted, proc.stdout, proc.stderr, (tmp_path / "audit.log").read_text())


@pytest.mark.parametrize(("provider", "why"), [
    ("github", "revocation requested, not yet proven"),
    ("gitlab", "still accepts the leaked token"),
    ("slack", "still accepts the leaked token"),
])
def test_a_token_the_provider_still_accepts_after_the_call_stays_still_live(vault, provider_apis, tmp_path: Path,
                                                                             provider: str, why: str) -> None:
    api = provider_apis
    api.ignore.add(provider)  # the call is accepted, the token keeps working
    config, planted = setup(vault, api, tmp_path, [provider], seed=1203, revocation={"wait_seconds": 0})
    proc = run_cli("--config", str(config), "--revoke", "--yes", env=env_for(vault, api), cwd=tmp_path)
    assert proc.returncode == 1
    o = outcomes(proc)[NAMES[provider]]
    assert o["state"] == "still-live" and why in o["reason"]
    assert o["revocation"]["accepted"] is True and o["revocation"]["leaked_refused"] is False
    assert summary(proc)["revoked"] == [] and summary(proc)["still_live"] == [NAMES[provider]]
    assert_no_token(planted, proc.stdout, proc.stderr, (tmp_path / "audit.log").read_text())


def test_github_queue_is_rechecked_until_the_token_is_refused(provider_apis) -> None:
    """GitHub queues revocations: the follow-up check is repeated while wait_seconds allows (no real sleep)."""
    api = provider_apis
    api.queue = True
    token = tokens(1204)["github"]
    api.issue("github", token)
    config = parse_revocation({"wait_seconds": 30}, api.env())
    clock = [0.0]

    def sleep(seconds: float) -> None:  # the queue is worked through while we wait
        clock[0] += seconds
        api.process_queue()

    result = revoke_one("github-token", Secret(token), config, sleep=sleep, clock=lambda: clock[0])
    assert result.proven and result.waited >= 3
    assert [r["path"] for r in api.requests] == ["/credentials/revoke", "/user", "/user"]

    api.queue, other = True, tokens(1205)["github"]
    api.issue("github", other)
    api.process_queue = lambda: None  # type: ignore[method-assign]  # never processed
    result = revoke_one("github-token", Secret(other), config, sleep=sleep, clock=lambda: clock[0])
    assert not result.proven and "revocation requested, not yet proven" in result.summary()


def test_without_a_terminal_or_yes_it_refuses_with_exit_2(vault, provider_apis, tmp_path: Path) -> None:
    api = provider_apis
    config, planted = setup(vault, api, tmp_path, ["github"], seed=1206)
    env = env_for(vault, api)
    proc = run_cli("--config", str(config), "--revoke", env=env, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--yes" in lines[0] and "Traceback" not in proc.stderr
    assert api.requests == [] and api.works("github", planted["github"])

    for args, words in ((["--yes"], "--yes applies to --revoke only"),
                        (["--revoke", "--yes", "--mode", "scheduled"], "--mode compromised only")):
        bad = run_cli("--config", str(config), *args, env=env, cwd=tmp_path)
        assert bad.returncode == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

    # A dry run needs no confirmation: it says what --revoke would do and sends nothing.
    dry = run_cli("--config", str(config), "--revoke", "--dry-run", env=env, cwd=tmp_path)
    assert "would ask to revoke it at GitHub" in outcomes(dry)["GITHUB_TOKEN"]["reason"]
    assert api.requests == [] and api.works("github", planted["github"])


def test_an_api_url_must_be_https_or_loopback(vault, provider_apis, tmp_path: Path) -> None:
    config, _ = setup(vault, provider_apis, tmp_path, ["gitlab"], seed=1207,
                      revocation={"gitlab": {"api_url": "http://gitlab.example.internal"}})
    proc = run_cli("--config", str(config), "--revoke", "--yes", env=env_for(vault, provider_apis), cwd=tmp_path)
    assert proc.returncode == 2 and "revocation.gitlab.api_url" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _read_until(fd: int, marker: str, seen: list[str], deadline: float) -> None:
    while marker not in "".join(seen):
        assert time.monotonic() < deadline, "".join(seen)
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode("utf-8", "replace"))
            except OSError:  # the child closed the terminal
                return


def test_the_prompt_names_each_token_by_its_preview_and_provider(vault, provider_apis, tmp_path: Path) -> None:
    """On a terminal: one y/N question per token; only the confirmed one is revoked (api_url from the config)."""
    api = provider_apis
    config, planted = setup(vault, api, tmp_path, ["github", "slack"], seed=1208,
                            revocation={"github": {"api_url": api.url("github")}})
    env = {k: v for k, v in env_for(vault, api).items() if k != "GIT_SANITIZE_GITHUB_API"}
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(config), "--revoke",
                              "--format", "json"], env=env, cwd=tmp_path, stdin=slave, stderr=slave,
                             stdout=subprocess.PIPE, text=True)
    os.close(slave)
    seen: list[str] = []
    deadline = time.monotonic() + 120
    try:
        _read_until(master, "Revoke GITHUB_TOKEN", seen, deadline)
        _read_until(master, "[y/N]", seen, deadline)
        os.write(master, b"y\n")
        _read_until(master, "Revoke SLACK_BOT_TOKEN", seen, deadline)
        _read_until(master, "[y/N]", seen, deadline)
        os.write(master, b"n\n")
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)
    prompt = "".join(seen)
    assert "(ghp_…, a GitHub token) at GitHub (" + api.url("github") + ")" in prompt
    assert "(xoxb…, a Slack token) at Slack (" + api.url("slack") + ")" in prompt
    assert child.returncode == 1  # the declined Slack token is still live
    got = {o["name"]: o for o in json.loads(out.splitlines()[-1])["outcomes"]}
    assert got["GITHUB_TOKEN"]["state"] == "revoked"
    assert got["SLACK_BOT_TOKEN"]["state"] == "still-live"
    assert "declined at the confirmation" in got["SLACK_BOT_TOKEN"]["reason"]
    assert not api.works("github", planted["github"]) and api.works("slack", planted["slack"])
    assert all(r["provider"] != "slack" for r in api.requests)
    assert_no_token(planted, prompt, out, (tmp_path / "audit.log").read_text())


def test_with_findings_only_the_exposed_token_is_revoked(vault, provider_apis, tmp_path: Path) -> None:
    from sanitize.scan.report import Finding, ScanReport

    api = provider_apis
    config, planted = setup(vault, api, tmp_path, ["github", "gitlab"], seed=1209)
    findings = tmp_path / "findings.json"
    findings.write_text(ScanReport(source="/repo", refs={}, findings=[Finding(
        rule="github.token", kind="content", path="ci.yml", blob="b" * 40, commit="c" * 40, line=1,
        secret_sha256=Secret(planted["github"]).sha256, preview="…", refs=["refs/heads/main"])]).to_json())
    proc = run_cli("--config", str(config), "--findings", str(findings), "--revoke", "--yes",
                   env=env_for(vault, api), cwd=tmp_path)
    got = outcomes(proc)
    assert got["GITHUB_TOKEN"]["state"] == "revoked" and got["GITHUB_TOKEN"]["exposed"] is True
    assert not api.works("github", planted["github"])
    assert api.works("gitlab", planted["gitlab"]) and all(r["provider"] != "gitlab" for r in api.requests)
    assert got["GITLAB_TOKEN"]["revocation"] is None and got["GITLAB_TOKEN"]["state"] == "still-live"
    assert "`git-sanitize rotate --revoke --only GITLAB_TOKEN`" in got["GITLAB_TOKEN"]["action"]
    assert_no_token(planted, proc.stdout, proc.stderr, (tmp_path / "audit.log").read_text())
