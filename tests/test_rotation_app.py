"""Application secrets end to end: a real app (JWT_SECRET + a bcrypt admin hash), OpenBao, PostgreSQL.

The incident's finding: after rotation a token forged with the leaked key was
accepted until the app restarted, the leaked admin login kept working even
after a restart, and the run said ``ok``. Here the app runs as its own process
and reads the store at start; the rotation must make it reload (a consumer,
after promotion), set the admin hash in its table (the ``sql`` target), and
show with requests to the app that the leaked key and password are refused
while the new ones work — or say that it could not.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from rotation import hs256
from rotation.config import RotationConfig, parse_config
from rotation.engine import rotate
from rotation.errors import LeakStillValid, RotationError
from rotation.protocol import ConsumerReload
from sanitize.secret import Secret
from tests.plugins.aurora_app import AuroraApp, AuroraDb, set_admin_password

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def status(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def bearer(key: str, *, kid: bool = False) -> dict[str, str]:
    token = hs256.sign({"sub": "admin"}, Secret(key), kid=hs256.thumbprint(Secret(key)) if kid else None)
    return {"Authorization": f"Bearer {token.reveal()}"}


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


class Story:
    """Seeded store, database and app; helpers to read the store and rotate."""

    def __init__(self, vault: Any, pg: Any, db: AuroraDb, start: Any, tmp: Path, *, jwks: str = "") -> None:
        rng = random.Random(1212)
        self.vault, self.pg, self.db, self.tmp = vault, pg, db, tmp
        self.old = {"JWT_SECRET": fake(rng, 48), "ADMIN_PASSWORD": fake(rng, 20)}
        vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/app", secret=dict(self.old))
        set_admin_password(pg, self.old["ADMIN_PASSWORD"])
        self.jwks = tmp / "jwks.json" if jwks == "file" else None
        first_set = json.dumps({"keys": [hs256.jwk(Secret(self.old["JWT_SECRET"]))]})
        if self.jwks is not None:
            self.jwks.write_text(first_set)
            extra = {"JWKS_FILE": str(self.jwks)}
        elif jwks == "store":
            vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/jwks", secret={"JWKS": first_set})
            extra = {"JWKS_KV_PATH": "aurora/jwks"}
        else:
            extra = {}
        env = {"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.token, "APP_KV_PATH": "aurora/app",
               "APP_DB_DSN": db.app_dsn, **extra}
        self.app: AuroraApp = start(env)
        self.lines: list[str] = []

    def current(self) -> dict[str, str]:
        return self.vault.client.secrets.kv.v2.read_secret_version(
            path="aurora/app", raise_on_deleted_version=True)["data"]["data"]

    def config(self, *, jwt: dict[str, Any] | None = None, admin: dict[str, Any] | None = None) -> RotationConfig:
        return parse_config(self.document(jwt=jwt, admin=admin),
                            env={"VAULT_TOKEN": self.vault.token, "APP_DB_ADMIN": self.db.admin_dsn})

    def document(self, *, jwt: dict[str, Any] | None = None, admin: dict[str, Any] | None = None) -> dict[str, Any]:
        secrets = []
        if jwt is not None:
            secrets.append({"name": "JWT_SECRET", "path": "aurora/app", "key": "JWT_SECRET",
                            "generate": {"kind": "hex", "bytes": 32}, "max_age": "30d", **jwt})
        if admin is not None:
            secrets.append({"name": "ADMIN_PASSWORD", "path": "aurora/app", "key": "ADMIN_PASSWORD",
                            "generate": {"kind": "password", "length": 24}, **admin})
        doc = {"backend": {"type": "vault", "url": self.vault.url, "token_env": "VAULT_TOKEN"},
               "audit_log": str(self.tmp / "audit.log"), "lock_dir": str(self.tmp / "locks"), "secrets": secrets}
        return doc

    def cli(self, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """``git-sanitize rotate --mode compromised`` as the operator runs it."""
        path = self.tmp / "rotation.yml"
        path.write_text(yaml.safe_dump(doc))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VAULT_TOKEN": self.vault.token,
               "APP_DB_ADMIN": self.db.admin_dsn, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        return subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(path), "--mode",
                               "compromised"], env=env, cwd=self.tmp, capture_output=True, text=True, timeout=240,
                              check=False)

    def sql_target(self) -> dict[str, Any]:
        return {"type": "sql", "admin_dsn_env": "APP_DB_ADMIN", "table": "app_users", "column": "password_hash",
                "where": {"username": "admin"}, "cost": 6}

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def assert_nothing_printed(self, *texts: str) -> None:
        cur = self.current()
        values = [*self.old.values(), cur["JWT_SECRET"], cur["ADMIN_PASSWORD"], self.db.admin_dsn, self.db.app_dsn]
        tokens = [bearer(v)["Authorization"][7:] for v in (self.old["JWT_SECRET"], cur["JWT_SECRET"])]
        blob = "\n".join([*self.lines, (self.tmp / "audit.log").read_text(), *texts])
        for value in [*values, *tokens]:
            assert value not in blob


@pytest.fixture
def story(vault, pg, aurora_db, start_aurora_app, tmp_path: Path) -> Story:
    return Story(vault, pg, aurora_db, start_aurora_app, tmp_path)


@pytest.fixture
def jwks_story(vault, pg, aurora_db, start_aurora_app, tmp_path: Path) -> Story:
    return Story(vault, pg, aurora_db, start_aurora_app, tmp_path, jwks="file")


@pytest.fixture
def jwks_store_story(vault, pg, aurora_db, start_aurora_app, tmp_path: Path) -> Story:
    return Story(vault, pg, aurora_db, start_aurora_app, tmp_path, jwks="store")


def _jwt_proof(s: Story, **extra: Any) -> dict[str, Any]:
    return {"type": "http", "url": f"{s.app.url}/me", "auth": "jwt", "claims": {"sub": "admin"}, **extra}


def _admin_proofs(s: Story) -> list[dict[str, Any]]:
    script = s.tmp / "check_admin.py"
    script.write_text(
        "import base64, sys, urllib.request, urllib.error\n"
        "pw = sys.stdin.read()\n"
        "req = urllib.request.Request(sys.argv[1], headers={'Authorization': 'Basic ' + "
        "base64.b64encode(('admin:' + pw).encode()).decode()})\n"
        "try:\n    urllib.request.urlopen(req, timeout=10)\nexcept urllib.error.HTTPError as e:\n"
        "    print('login refused', e.code, 'for', pw)\n    sys.exit(1)\nprint('login ok for', pw)\n")
    return [{"type": "http", "url": f"{s.app.url}/admin", "auth": "basic", "username": "admin"},
            {"type": "command", "argv": [sys.executable, str(script), f"{s.app.url}/admin"]}]


@pytest.mark.parametrize("consumer", ["webhook", "sighup"])
def test_compromised_rotation_makes_the_app_refuse_the_leaked_key_and_password(story: Story, consumer: str) -> None:
    s = story
    # The leak is live before: a token forged with the leaked key and the leaked admin login both work.
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"]))[0] == 200
    assert status(f"{s.app.url}/admin", headers=basic(s.old["ADMIN_PASSWORD"]))[0] == 200
    reload = ({"type": "webhook", "url": f"{s.app.url}/reload"} if consumer == "webhook"
              else {"type": "command", "argv": ["kill", "-HUP", str(s.app.pid)]})
    config = s.config(jwt={"consumers": [reload], "proofs": [_jwt_proof(s)]},
                      admin={"target": s.sql_target(), "proofs": _admin_proofs(s)})
    summary = rotate(config, mode="compromised", log=s.lines.append)

    assert summary.exit_code == 0 and summary.rotated == ["JWT_SECRET", "ADMIN_PASSWORD"]
    assert summary.states == {"rotated-proven-dead": ["JWT_SECRET", "ADMIN_PASSWORD"]}
    jwt_out, admin_out = summary.outcomes
    assert jwt_out.proof.startswith("GET ") and "leaked HTTP 401, new HTTP 200" in jwt_out.proof
    assert "crypt(leaked, hash) no longer matches app_users.password_hash" in admin_out.proof
    assert "command " in admin_out.proof and "leaked exit 1, new exit 0" in admin_out.proof
    assert jwt_out.consumers == [ConsumerReload(consumer=f"webhook {s.app.url}/reload" if consumer == "webhook"
                                                else "command kill", ok=True,
                                                detail="HTTP 200" if consumer == "webhook" else "exit 0")]
    new = s.current()
    # At the app: leaked refused, new accepted; a token the app itself issues with the new login works.
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"]))[0] == 401
    assert status(f"{s.app.url}/me", headers=bearer(new["JWT_SECRET"]))[0] == 200
    assert status(f"{s.app.url}/admin", headers=basic(s.old["ADMIN_PASSWORD"]))[0] == 401
    assert status(f"{s.app.url}/admin", headers=basic(new["ADMIN_PASSWORD"]))[0] == 200
    code, body = status(f"{s.app.url}/login", method="POST", headers=basic(new["ADMIN_PASSWORD"]))
    assert code == 200 and status(f"{s.app.url}/me", headers={"Authorization": f"Bearer {body['token']}"})[0] == 200
    # In the database: a bcrypt hash that verifies the new password only.
    with s.pg.connect() as conn:
        hashed, old_ok, new_ok = conn.execute(
            "SELECT password_hash, crypt(%s, password_hash) = password_hash, crypt(%s, password_hash) = password_hash "
            "FROM app_users WHERE username = 'admin'", (s.old["ADMIN_PASSWORD"], new["ADMIN_PASSWORD"])).fetchone()
    assert hashed.startswith("$2a$06$") and not old_ok and new_ok
    # The log shows the order: finish, then the reload, then the checks (new first, then leaked).
    steps = [(r["secret"], r["step"]) for r in s.records() if r["secret"] == "JWT_SECRET"]
    assert steps.index(("JWT_SECRET", "finish")) < steps.index(("JWT_SECRET", "consume")) \
        < steps.index(("JWT_SECRET", "prove"))
    checks = [(r["value"], r["verdict"]) for r in s.records() if r.get("check")]
    assert checks == [("new", "accepted"), ("leaked", "refused")] * 3
    # The command proof printed both passwords: kept, redacted.
    outputs = [r["output"] for r in s.records() if r.get("check", "").startswith("command")]
    assert outputs == ["login ok for [redacted]", "login refused 401 for [redacted]"]
    s.assert_nothing_printed(str(summary), json.dumps(summary.to_dict()))


def test_without_a_reload_the_app_keeps_the_leaked_key_and_the_run_says_still_live(story: Story) -> None:
    """What the incident saw as 'ok': the store rotated, the app still on the leaked key. Now it is still-live."""
    s = story
    with pytest.raises(LeakStillValid) as info:
        rotate(s.config(jwt={"proofs": [_jwt_proof(s)]}), mode="compromised", log=s.lines.append)
    summary = info.value.summary  # type: ignore[attr-defined]
    (out,) = summary.outcomes
    assert out.state == "still-live" and out.leaked_rejected is False
    assert "accepted the leaked value (HTTP 200)" in out.reason
    assert "the store holds JWT_SECRET's new value" in out.action and "rolled back" not in out.action
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"]))[0] == 200  # the leak is indeed live
    checks = [(r["value"], r["verdict"]) for r in s.records() if r.get("check")]
    assert checks == [("new", "refused"), ("leaked", "accepted")]
    s.assert_nothing_printed(str(info.value))


def test_a_check_that_refuses_everything_proves_nothing(story: Story) -> None:
    s = story
    proof = _jwt_proof(s, url=f"{s.app.url}/missing", refused=[401, 404])
    summary = rotate(s.config(jwt={"consumers": [{"type": "webhook", "url": f"{s.app.url}/reload"}],
                                   "proofs": [proof]}), mode="compromised", log=s.lines.append)
    (out,) = summary.outcomes
    assert out.state == "rotated-unproven" and out.leaked_rejected is None
    assert "refused the new value too (HTTP 404)" in out.why
    assert summary.exit_code == 0  # not live as far as anything shows, but not proven: the state says which


def test_a_failing_consumer_keeps_its_redacted_output_and_the_secret_still_live(story: Story) -> None:
    s = story
    reader = s.tmp / "restart.py"
    reader.write_text("import json, os, sys, urllib.request\n"
                      f"req = urllib.request.Request({s.vault.url!r} + '/v1/secret/data/aurora/app', "
                      f"headers={{'X-Vault-Token': {s.vault.token!r}}})\n"
                      "data = json.load(urllib.request.urlopen(req))['data']['data']\n"
                      "print('loaded', data['JWT_SECRET'], 'for', os.environ['ROTATION_SECRET_NAME'])\n"
                      "print('restart failed', file=sys.stderr)\nsys.exit(3)\n")
    summary = rotate(s.config(jwt={"consumers": [{"type": "command", "argv": [sys.executable, str(reader)]}]}),
                     mode="compromised", log=s.lines.append)
    (out,) = summary.outcomes
    assert out.status == "rotated" and out.state == "still-live" and summary.exit_code == 1
    assert out.consumer_failed == ["command " + sys.executable]
    assert "restart it by hand" in out.action
    (consume,) = [r for r in s.records() if r["step"] == "consume"]
    assert consume["status"] == "failed" and consume["detail"].endswith("exited 3")
    assert "loaded [redacted] for JWT_SECRET" in consume["output"] and "restart failed" in consume["output"]
    s.assert_nothing_printed(str(summary))


def test_sql_target_refuses_a_where_that_is_not_one_row_and_changes_nothing(story: Story) -> None:
    s = story
    with s.pg.connect() as conn:
        conn.execute("INSERT INTO app_users VALUES ('admin2', 'h'), ('admin3', 'h')")
        before = conn.execute("SELECT username, password_hash FROM app_users ORDER BY 1").fetchall()
    target = {**s.sql_target(), "where": {"password_hash": "h"}}
    with pytest.raises(RotationError) as info:
        rotate(s.config(admin={"target": target}), mode="compromised")
    assert "has 2 rows where password_hash=h" in str(info.value) and "nothing was changed" in str(info.value)
    with s.pg.connect() as conn:
        assert conn.execute("SELECT username, password_hash FROM app_users ORDER BY 1").fetchall() == before
    assert s.current()["ADMIN_PASSWORD"] == s.old["ADMIN_PASSWORD"]


def test_sql_target_rollback_restores_the_exact_hash(story: Story, monkeypatch) -> None:
    s = story
    from rotation.targets.sql import SqlHashTarget

    with s.pg.connect() as conn:
        (before,) = conn.execute("SELECT password_hash FROM app_users WHERE username = 'admin'").fetchone()
    monkeypatch.setattr(SqlHashTarget, "test", lambda self, value: (_ for _ in ()).throw(
        __import__("rotation.errors").errors.TargetError("sql: simulated test failure")))
    with pytest.raises(RotationError, match="rolled back: store unchanged, target reverted"):
        rotate(s.config(admin={"target": s.sql_target()}), mode="compromised")
    with s.pg.connect() as conn:
        (after,) = conn.execute("SELECT password_hash FROM app_users WHERE username = 'admin'").fetchone()
    assert after == before and s.current()["ADMIN_PASSWORD"] == s.old["ADMIN_PASSWORD"]
    assert status(f"{s.app.url}/admin", headers=basic(s.old["ADMIN_PASSWORD"]))[0] == 200


def test_sql_target_without_pgcrypto_says_how_to_install_it(story: Story) -> None:
    s = story
    with s.pg.connect() as conn:
        conn.execute("DROP EXTENSION pgcrypto")
    with pytest.raises(RotationError) as info:
        rotate(s.config(admin={"target": s.sql_target()}), mode="compromised")
    assert "CREATE EXTENSION pgcrypto" in str(info.value) and "postgresql-contrib" in str(info.value)
    assert s.current()["ADMIN_PASSWORD"] == s.old["ADMIN_PASSWORD"]


def _jwks_kids(s: Story) -> list[str]:
    assert s.jwks is not None
    return [k["kid"] for k in json.loads(s.jwks.read_text())["keys"]]


def test_jwks_scheduled_rotation_publishes_first_keeps_the_old_kid_for_the_grace_window(jwks_story: Story) -> None:
    s = jwks_story
    old_kid = hs256.thumbprint(Secret(s.old["JWT_SECRET"]))
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"], kid=True))[0] == 200
    jwt = {"target": {"type": "jwks", "file": str(s.jwks), "grace": "1d"},
           "consumers": [{"type": "webhook", "url": f"{s.app.url}/reload"}]}
    summary = rotate(s.config(jwt=jwt), mode="scheduled", log=s.lines.append)
    new = s.current()["JWT_SECRET"]
    new_kid = hs256.thumbprint(Secret(new))
    assert summary.rotated == ["JWT_SECRET"] and _jwks_kids(s) == [new_kid, old_kid]
    assert (s.jwks.stat().st_mode & 0o777) == 0o600
    # Both work in the grace window; a token without a kid or with a made-up key does not.
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"], kid=True))[0] == 200
    assert status(f"{s.app.url}/me", headers=bearer(new, kid=True))[0] == 200
    assert status(f"{s.app.url}/me", headers=bearer(new))[0] == 401
    assert status(f"{s.app.url}/me", headers=bearer("z" * 40, kid=True))[0] == 401
    # The new key was in the set before the store made it current.
    steps = [r["step"] for r in s.records() if r["secret"] == "JWT_SECRET"]
    assert steps.index("set") < steps.index("finish")
    # A --due run inside the window leaves the old kid; one after it removes it and reloads the app.
    rotate(s.config(jwt=jwt), mode="scheduled", due=True, now=datetime.now(UTC) + timedelta(hours=12))
    assert _jwks_kids(s) == [new_kid, old_kid]
    later = rotate(s.config(jwt=jwt), mode="scheduled", due=True, now=datetime.now(UTC) + timedelta(days=2),
                   log=s.lines.append)
    assert later.named("not due") == ["JWT_SECRET"] and "removed 1 retired key(s)" in later.outcomes[0].reason
    assert _jwks_kids(s) == [new_kid] and s.current()["JWT_SECRET"] == new
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"], kid=True))[0] == 401
    assert status(f"{s.app.url}/me", headers=bearer(new, kid=True))[0] == 200


def test_jwks_compromised_rotation_removes_the_leaked_kid_at_once(jwks_story: Story) -> None:
    s = jwks_story
    old_kid = hs256.thumbprint(Secret(s.old["JWT_SECRET"]))
    jwt = {"target": {"type": "jwks", "file": str(s.jwks), "grace": "1d"},
           "consumers": [{"type": "command", "argv": ["kill", "-HUP", str(s.app.pid)]}],
           "proofs": [_jwt_proof(s, kid="thumbprint")]}
    summary = rotate(s.config(jwt=jwt), mode="compromised", log=s.lines.append)
    new = s.current()["JWT_SECRET"]
    (out,) = summary.outcomes
    assert out.state == "rotated-proven-dead"
    assert f"kid {old_kid} is no longer in {s.jwks}" in out.proof and "leaked HTTP 401, new HTTP 200" in out.proof
    assert _jwks_kids(s) == [hs256.thumbprint(Secret(new))]
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"], kid=True))[0] == 401
    assert status(f"{s.app.url}/me", headers=bearer(new, kid=True))[0] == 200
    (retire,) = [r for r in s.records() if r["step"] == "retire"]
    assert retire["detail"] == f"old kid {old_kid} removed from {s.jwks} at once"
    assert s.old["JWT_SECRET"] not in s.jwks.read_text()
    assert hs256.b64url(s.old["JWT_SECRET"].encode()) not in s.jwks.read_text()
    s.assert_nothing_printed(str(summary))


def test_jwks_in_the_store_compromised_and_scheduled(jwks_store_story: Story) -> None:
    s = jwks_store_story
    kv = s.vault.client.secrets.kv.v2

    def kids() -> list[str]:
        doc = kv.read_secret_version(path="aurora/jwks", raise_on_deleted_version=True)["data"]["data"]["JWKS"]
        return [k["kid"] for k in json.loads(doc)["keys"]]

    old_kid = hs256.thumbprint(Secret(s.old["JWT_SECRET"]))
    jwt = {"target": {"type": "jwks", "store": {"path": "aurora/jwks", "key": "JWKS"}, "grace": "1d"},
           "consumers": [{"type": "webhook", "url": f"{s.app.url}/reload"}],
           "proofs": [_jwt_proof(s, kid="thumbprint")]}
    rotate(s.config(jwt=jwt), mode="scheduled")
    mid = s.current()["JWT_SECRET"]
    assert kids() == [hs256.thumbprint(Secret(mid)), old_kid]
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"], kid=True))[0] == 200  # grace window
    # The key material was leaked after all: compromised mode drops every earlier key from the set at once.
    summary = rotate(s.config(jwt=jwt), mode="compromised", log=s.lines.append)
    new = s.current()["JWT_SECRET"]
    assert summary.states == {"rotated-proven-dead": ["JWT_SECRET"]}
    assert kids() == [hs256.thumbprint(Secret(new))]  # neither the leaked key nor the one still in its grace window
    assert status(f"{s.app.url}/me", headers=bearer(s.old["JWT_SECRET"], kid=True))[0] == 401
    assert status(f"{s.app.url}/me", headers=bearer(mid, kid=True))[0] == 401
    assert status(f"{s.app.url}/me", headers=bearer(new, kid=True))[0] == 200
    # No earlier version of the key set is readable: they held the retired keys.
    meta = kv.read_secret_metadata(path="aurora/jwks")["data"]
    assert all(v["destroyed"] for n, v in meta["versions"].items() if int(n) < meta["current_version"])


def test_jwks_revert_puts_the_set_back(jwks_story: Story, monkeypatch) -> None:
    s = jwks_story
    from rotation.targets.jwks import JwksTarget

    before = s.jwks.read_text()
    monkeypatch.setattr(JwksTarget, "test", lambda self, value: (_ for _ in ()).throw(
        __import__("rotation.errors").errors.TargetError("jwks: simulated")))
    with pytest.raises(RotationError, match="target reverted"):
        rotate(s.config(jwt={"target": {"type": "jwks", "file": str(s.jwks)}}), mode="compromised")
    assert json.loads(s.jwks.read_text()) == json.loads(before)
    assert s.current()["JWT_SECRET"] == s.old["JWT_SECRET"]


def test_sighup_consumer_is_the_app_itself_reloading(story: Story) -> None:
    """Sanity for the fixture: the app reads the store only when told to."""
    s = story
    loads = status(f"{s.app.url}/health")[1]["loads"]
    s.app.proc.send_signal(signal.SIGHUP)
    for _ in range(100):
        if status(f"{s.app.url}/health")[1]["loads"] > loads:
            break
        time.sleep(0.05)
    assert status(f"{s.app.url}/health")[1]["loads"] == loads + 1


def test_db_admin_hash_check_uses_the_database(story: Story) -> None:
    with psycopg.connect(story.db.app_dsn) as conn:
        ok = conn.execute("SELECT crypt(%s, password_hash) = password_hash FROM app_users",
                          (story.old["ADMIN_PASSWORD"],)).fetchone()
    assert ok == (True,)


def test_cli_rotation_of_the_app_prints_states_and_no_value(story: Story) -> None:
    s = story
    doc = s.document(jwt={"consumers": [{"type": "webhook", "url": f"{s.app.url}/reload"}], "proofs": [_jwt_proof(s)]},
                     admin={"target": s.sql_target(), "proofs": _admin_proofs(s)})
    proc = s.cli(doc)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "ok" and summary["states"] == {"rotated-proven-dead": ["JWT_SECRET", "ADMIN_PASSWORD"]}
    s.lines = proc.stdout.splitlines()
    s.assert_nothing_printed(proc.stderr)


def test_cli_still_live_app_key_exits_1_with_one_line(story: Story) -> None:
    s = story
    proc = s.cli(s.document(jwt={"proofs": [_jwt_proof(s)]}))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "still accepted" in proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "failed" and summary["still_live"] == ["JWT_SECRET"]
    s.lines = proc.stdout.splitlines()
    s.assert_nothing_printed(proc.stderr)


def test_dry_run_names_the_consumers_and_checks_and_runs_none(story: Story) -> None:
    s = story
    loads = status(f"{s.app.url}/health")[1]["loads"]
    config = s.config(jwt={"consumers": [{"type": "webhook", "url": f"{s.app.url}/reload"}],
                           "proofs": [_jwt_proof(s)]}, admin={"target": s.sql_target()})
    summary = rotate(config, mode="compromised", dry_run=True, log=s.lines.append)
    assert summary.named("would rotate") == ["JWT_SECRET", "ADMIN_PASSWORD"]
    plans = {r["secret"]: r for r in s.records() if r["step"] == "plan"}
    assert plans["JWT_SECRET"]["consumers"] == [f"webhook {s.app.url}/reload"]
    assert plans["JWT_SECRET"]["proofs"] == [f"GET {s.app.url}/me (jwt)"]
    assert plans["ADMIN_PASSWORD"]["target"] == "sql"
    assert status(f"{s.app.url}/health")[1]["loads"] == loads and s.current() == s.old
    assert status(f"{s.app.url}/admin", headers=basic(s.old["ADMIN_PASSWORD"]))[0] == 200
