"""The ``sql`` target beyond PostgreSQL + bcrypt: argon2id hashes, and MariaDB as the app's database.

The real app (``tests/apps/aurora_app.py``) checks ``admin:<password>`` on every
request against the hash in its own ``app_users`` table: on MariaDB it reads
the hash and verifies it itself (bcrypt or argon2-cffi), on PostgreSQL an
argon2 hash likewise. The rotation hashes the new password client-side and
sends only the hash: the database's own statement log (PostgreSQL
``log_statement = all``, MariaDB's general log) holds the hash and neither
password. Proof: the app refuses the leaked password and accepts the new one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import ConfigError, RotationError, TargetError
from rotation.password_hashes import HashSpec
from sanitize.secret import Secret
from tests.plugins.aurora_app import AuroraApp
from tests.test_rotation_app import basic, fake, status

pytestmark = pytest.mark.services

#: Small argon2id parameters keep the tests quick; the defaults are argon2-cffi's (RFC 9106 low-memory).
ARGON2 = {"hash": "argon2id", "time_cost": 1, "memory_cost": 1024, "parallelism": 1}
BCRYPT = {"hash": "bcrypt", "cost": 5}


def hash_of(password: str, spec: dict[str, Any]) -> str:
    params = {k: v for k, v in spec.items() if k != "hash"}
    return HashSpec(scheme=spec["hash"], **params).hash(Secret(password)).reveal()


class AdminStory:
    """ADMIN_PASSWORD in OpenBao; its hash in the app's table on ``db`` (postgres or mariadb); the app running."""

    def __init__(self, vault: Any, server: Any, db: str, start: Any, tmp: Path, hashing: dict[str, Any]) -> None:
        rng = random.Random(f"sql-{db}-{hashing['hash']}")
        self.vault, self.server, self.db, self.tmp, self.hashing = vault, server, db, tmp, hashing
        self.leaked = fake(rng, 22)
        self.app_password = fake(rng, 18)
        initial = hash_of(self.leaked, hashing)
        if db == "mariadb":
            with server.connect() as conn, conn.cursor() as cur:
                cur.execute("CREATE DATABASE aurora")
                cur.execute("CREATE TABLE aurora.app_users (username VARCHAR(64) PRIMARY KEY, "
                            "password_hash VARCHAR(255) NOT NULL)")
                cur.execute("INSERT INTO aurora.app_users VALUES ('admin', %s)", (initial,))
            server.create_user("aurora_web", self.app_password)
            with server.connect() as conn, conn.cursor() as cur:
                cur.execute("GRANT SELECT ON aurora.app_users TO 'aurora_web'@'%'")
            self.admin_dsn = server.dsn(server.admin_user, server.admin_password, "aurora")
            app_dsn = server.dsn("aurora_web", self.app_password, "aurora")
        else:
            with server.connect() as conn:
                conn.execute("CREATE TABLE app_users (username text PRIMARY KEY, password_hash text NOT NULL)")
                conn.execute("INSERT INTO app_users VALUES ('admin', %s)", (initial,))
            app_dsn = server.create_role("aurora_web", self.app_password)
            with server.connect() as conn:
                conn.execute("GRANT SELECT ON app_users TO aurora_web")
            self.admin_dsn = server.admin_dsn
        self.app_dsn = app_dsn
        vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/app", secret={"ADMIN_PASSWORD": self.leaked})
        self.app: AuroraApp = start({"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.token,
                                     "APP_KV_PATH": "aurora/app", "APP_DB_DSN": app_dsn})
        self.lines: list[str] = []

    def target(self, **extra: Any) -> dict[str, Any]:
        return {"type": "sql", "admin_dsn_env": "APP_DB_ADMIN", "table": "app_users", "column": "password_hash",
                "where": {"username": "admin"}, **self.hashing, **extra}

    def config(self, target: dict[str, Any] | None = None) -> Any:
        secret = {"name": "ADMIN_PASSWORD", "path": "aurora/app", "key": "ADMIN_PASSWORD",
                  "generate": {"kind": "password", "length": 24}, "target": target or self.target(),
                  "proofs": [{"type": "http", "url": f"{self.app.url}/admin", "auth": "basic", "username": "admin"}]}
        doc = {"backend": {"type": "vault", "url": self.vault.url, "token_env": "VAULT_TOKEN"},
               "audit_log": str(self.tmp / "audit.log"), "lock_dir": str(self.tmp / "locks"), "secrets": [secret]}
        return parse_config(doc, env={"VAULT_TOKEN": self.vault.token, "APP_DB_ADMIN": self.admin_dsn})

    def current(self) -> str:
        return str(self.vault.client.secrets.kv.v2.read_secret_version(
            path="aurora/app", raise_on_deleted_version=True)["data"]["data"]["ADMIN_PASSWORD"])

    def stored_hash(self) -> str:
        if self.db == "mariadb":
            with self.server.connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT password_hash FROM aurora.app_users WHERE username = 'admin'")
                return str(cur.fetchone()[0])
        with self.server.connect() as conn:
            return str(conn.execute("SELECT password_hash FROM app_users WHERE username = 'admin'").fetchone()[0])

    def login(self, password: str) -> int:
        return status(f"{self.app.url}/admin", headers=basic(password))[0]

    def log_statements(self) -> None:
        """Turn on the database's own statement log (what reached the server, bind parameters included)."""
        if self.db == "mariadb":
            with self.server.connect() as conn, conn.cursor() as cur:
                cur.execute("SET GLOBAL log_output = 'TABLE'")
                cur.execute("SET GLOBAL general_log = 1")
        else:
            with self.server.connect() as conn:
                conn.execute("ALTER SYSTEM SET log_statement = 'all'")
                conn.execute("SELECT pg_reload_conf()")

    def statements(self) -> str:
        if self.db == "mariadb":
            with self.server.connect() as conn, conn.cursor() as cur:
                cur.execute("SET GLOBAL general_log = 0")
                cur.execute("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log")
                return "\n".join(str(r[0]) for r in cur.fetchall())
        return (self.server.datadir / "server.log").read_text(errors="replace")

    def assert_nothing_printed(self, *texts: str) -> None:
        blob = "\n".join([*self.lines, (self.tmp / "audit.log").read_text(), *texts])
        for value in (self.leaked, self.current(), self.admin_dsn, self.app_dsn, self.stored_hash()):
            assert value not in blob


@pytest.fixture
def pg_story(vault, pg, start_aurora_app, tmp_path: Path) -> Any:
    return lambda hashing: AdminStory(vault, pg, "postgres", start_aurora_app, tmp_path, hashing)


@pytest.fixture
def maria_story(vault, mariadb, start_aurora_app, tmp_path: Path) -> Any:
    return lambda hashing: AdminStory(vault, mariadb, "mariadb", start_aurora_app, tmp_path, hashing)


def _rotated_and_proven(s: AdminStory, prefix: str) -> None:
    assert s.login(s.leaked) == 200  # the leak is live before
    s.log_statements()
    summary = rotate(s.config(), mode="compromised", log=s.lines.append)
    new = s.current()
    (out,) = summary.outcomes
    assert out.state == "rotated-proven-dead" and summary.exit_code == 0
    assert "no longer verifies the leaked password (hashed and checked client-side" in out.proof
    assert "leaked HTTP 401, new HTTP 200" in out.proof
    # The app's own login check: the leaked password refused, the new one accepted.
    assert s.login(s.leaked) == 401 and s.login(new) == 200
    stored = s.stored_hash()
    assert stored.startswith(prefix)
    # Only the hash reached the database: its statement log has the hash, neither password.
    log = s.statements()
    assert stored in log and new not in log and s.leaked not in log
    s.assert_nothing_printed(str(summary), json.dumps(summary.to_dict()))


def test_argon2id_on_postgresql_is_hashed_client_side_and_the_app_refuses_the_leaked_password(pg_story: Any) -> None:
    _rotated_and_proven(pg_story(ARGON2), "$argon2id$v=19$m=1024,t=1,p=1$")


@pytest.mark.parametrize(("hashing", "prefix"), [(ARGON2, "$argon2id$v=19$m=1024,t=1,p=1$"), (BCRYPT, "$2b$05$")],
                         ids=["argon2id", "bcrypt"])
def test_mariadb_admin_hash_rotated_and_the_app_refuses_the_leaked_password(maria_story: Any,
                                                                            hashing: dict[str, Any],
                                                                            prefix: str) -> None:
    _rotated_and_proven(maria_story(hashing), prefix)


def test_mariadb_rollback_restores_the_exact_hash(maria_story: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s: AdminStory = maria_story(ARGON2)
    from rotation.targets.sql import SqlHashTarget

    before = s.stored_hash()

    def refuse(self: Any, value: Secret) -> None:
        raise TargetError("sql: simulated test failure")

    monkeypatch.setattr(SqlHashTarget, "test", refuse)
    with pytest.raises(RotationError, match="rolled back: store unchanged, target reverted"):
        rotate(s.config(), mode="compromised", log=s.lines.append)
    assert s.stored_hash() == before and s.current() == s.leaked and s.login(s.leaked) == 200


def test_mariadb_where_that_is_not_one_row_changes_nothing(maria_story: Any) -> None:
    s: AdminStory = maria_story(BCRYPT)
    with s.server.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO aurora.app_users VALUES ('ops1', 'h'), ('ops2', 'h')")
    with pytest.raises(RotationError) as info:
        rotate(s.config(s.target(where={"password_hash": "h"})), mode="compromised")
    assert "has 2 rows where password_hash=h" in str(info.value) and "nothing was changed" in str(info.value)
    with s.server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT username, password_hash FROM aurora.app_users WHERE username LIKE 'ops%' ORDER BY 1")
        assert cur.fetchall() == (("ops1", "h"), ("ops2", "h"))
    assert s.current() == s.leaked and s.login(s.leaked) == 200


@pytest.mark.parametrize(("extra", "message"), [
    ({"hash": "argon2id", "cost": 10}, "'cost' is bcrypt's"),
    ({"hash": "bcrypt", "memory_cost": 1024}, "memory_cost apply to hash: argon2id only"),
    ({"hash": "scrypt"}, "'hash' must be bcrypt or argon2id"),
    ({"hash": "argon2", "time_cost": 0}, "'time_cost' must be an integer from 1 to 100"),
])
def test_sql_hash_config_errors(extra: dict[str, Any], message: str) -> None:
    target = {"type": "sql", "admin_dsn_env": "ADMIN", "table": "t", "column": "c", "where": {"u": "a"}, **extra}
    doc = {"backend": {"type": "vault", "url": "http://127.0.0.1:1", "token_env": "T"},
           "secrets": [{"name": "ADMIN_PASSWORD", "path": "a/b", "key": "K", "target": target}]}
    with pytest.raises(ConfigError, match=message):
        parse_config(doc, env={"T": "x", "ADMIN": "mysql://u:p@127.0.0.1:1/app"})


def test_mysql_admin_dsn_without_a_database_is_a_config_error() -> None:
    target = {"type": "sql", "admin_dsn_env": "ADMIN", "table": "app_users", "column": "c", "where": {"u": "a"}}
    doc = {"backend": {"type": "vault", "url": "http://127.0.0.1:1", "token_env": "T"},
           "secrets": [{"name": "ADMIN_PASSWORD", "path": "a/b", "key": "K", "target": target}]}
    with pytest.raises(ConfigError, match=r"name the database in the admin DSN"):
        parse_config(doc, env={"T": "x", "ADMIN": "mysql://u:p@127.0.0.1:1/"})


@pytest.mark.parametrize("hashing", [ARGON2, BCRYPT], ids=["argon2id", "bcrypt"])
def test_client_side_hash_verifies_its_password_only(hashing: dict[str, Any]) -> None:
    from rotation.password_hashes import verify

    rng = random.Random(f"hash-{hashing['hash']}")
    password, other = fake(rng, 24), fake(rng, 24)
    stored = hash_of(password, hashing)
    assert password not in stored and stored != hash_of(password, hashing)  # salted
    assert verify(stored, Secret(password)) and not verify(stored, Secret(other))
    for broken in ("", "h", stored[:-4], "$argon2id$nonsense", "$2b$05$short"):
        assert not verify(broken, Secret(password))
