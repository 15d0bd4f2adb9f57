"""The ``mysql`` target against a real MariaDB (Debian's mariadb-server) and a real OpenBao store."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pymysql
import pytest

from rotation.backends.base import SecretRef
from rotation.backends.vault import VaultBackend
from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import ConfigError, TargetError
from rotation.generate import GenerateSpec, dsn_password
from rotation.protocol import rotate_secret
from rotation.targets.mysql import MysqlTarget
from sanitize.secret import Secret

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int = 24) -> str:
    """A seeded fake secret, built at run time."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def can_login(dsn: str, mariadb: Any) -> bool:
    try:
        mariadb.connect(dsn).close()
        return True
    except pymysql.err.OperationalError as exc:
        assert exc.args[0] == 1045, exc.args  # refused, not unreachable
        return False


def config(vault: Any, tmp: Path, env: dict[str, str], target: dict[str, Any] | None = None) -> Any:
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": str(tmp / "audit.log"), "lock_dir": str(tmp / "locks"),
           "secrets": [{"name": "MYSQL_URL", "path": "shop/db", "key": "MYSQL_URL",
                        **({"target": target} if target else {})}]}
    return parse_config(doc, env=env)


def test_compromised_rotation_refuses_the_leaked_login_and_kills_its_session(vault, mariadb, tmp_path: Path) -> None:
    rng = random.Random(3306)
    password = fake(rng) + "/?#"  # characters that must stay percent-encoded in the DSN
    leaked = mariadb.create_user("shop_app", password) + "?charset=utf8mb4"
    assert can_login(leaked, mariadb)
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/db", secret={"MYSQL_URL": leaked})
    env = {"VAULT_TOKEN": vault.token, "MYSQL_ADMIN_DSN": mariadb.admin_dsn}
    lines: list[str] = []
    session = mariadb.connect(leaked)  # a consumer logged in with the leaked password
    summary = rotate(config(vault, tmp_path, env, {"type": "mysql", "admin_dsn_env": "MYSQL_ADMIN_DSN"}),
                     mode="compromised", log=lines.append)

    assert summary.rotated == ["MYSQL_URL"]
    new = vault.client.secrets.kv.v2.read_secret_version(path="shop/db", raise_on_deleted_version=True)[
        "data"]["data"]["MYSQL_URL"]
    # Same shape: scheme, user, host, port, database and options; only the password changed.
    old_pw, new_pw = quote(password, safe=""), quote(dsn_password(new) or "", safe="")
    assert new.replace(new_pw, "PW") == leaked.replace(old_pw, "PW") and new != leaked
    assert can_login(new, mariadb)
    assert not can_login(leaked, mariadb)
    with pytest.raises(pymysql.err.OperationalError):  # the leaked session was killed
        with session.cursor() as cur:
            cur.execute("SELECT 1")
    outcome = summary.outcomes[0]
    assert outcome.leaked_rejected is True and outcome.sessions_terminated == 1
    records = [json.loads(line) for line in lines]
    assert [r["status"] for r in records if r["step"] == "prove"] == ["leaked credential rejected"]
    text = "\n".join(lines) + (tmp_path / "audit.log").read_text() + str(summary)
    for value in (password, leaked, new, dsn_password(new) or "", mariadb.admin_password):
        assert value not in text


def test_every_host_entry_of_the_user_is_rotated(vault, mariadb) -> None:
    rng = random.Random(1)
    password = fake(rng)
    leaked = mariadb.create_user("multi", password, host="%")
    mariadb.create_user("multi", password, host="127.0.0.1")  # the more specific entry wins for TCP logins
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/db", secret={"MYSQL_URL": leaked})
    backend = VaultBackend(vault.url, Secret(vault.token))
    ref = SecretRef(name="MYSQL_URL", path="shop/db", key="MYSQL_URL")
    result = rotate_secret(backend, ref, GenerateSpec(), MysqlTarget(Secret(mariadb.admin_dsn)))
    assert result.leak is not None and result.leak.leaked_rejected
    with mariadb.connect() as root, root.cursor() as cur:
        cur.execute("SELECT Host FROM mysql.user WHERE User = 'multi' AND authentication_string = PASSWORD(%s)",
                    (password,))
        assert cur.fetchall() == ()  # no entry keeps the leaked password


def test_a_leaked_admin_dsn_rotates_itself(vault, mariadb) -> None:
    """The leaked DSN is the admin's own: the target keeps working with the password it just set."""
    leaked = mariadb.admin_dsn
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/db", secret={"MYSQL_URL": leaked})
    backend = VaultBackend(vault.url, Secret(vault.token))
    ref = SecretRef(name="MYSQL_URL", path="shop/db", key="MYSQL_URL")
    result = rotate_secret(backend, ref, GenerateSpec(), MysqlTarget(Secret(leaked)))
    assert result.leak is not None and result.leak.leaked_rejected
    new = backend.read_current(ref).value.reveal()
    assert can_login(new, mariadb) and not can_login(leaked, mariadb)


def test_rollback_restores_the_old_password_when_the_test_fails(vault, mariadb) -> None:
    password = fake(random.Random(2))
    leaked = mariadb.create_user("shop_app", password)
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/db", secret={"MYSQL_URL": leaked})

    class Failing(MysqlTarget):
        def test(self, value: Secret) -> None:
            raise TargetError("mysql: simulated test failure")

    backend = VaultBackend(vault.url, Secret(vault.token))
    ref = SecretRef(name="MYSQL_URL", path="shop/db", key="MYSQL_URL")
    with pytest.raises(TargetError, match=r"test: mysql: simulated test failure.*target reverted"):
        rotate_secret(backend, ref, GenerateSpec(), Failing(Secret(mariadb.admin_dsn)))
    assert backend.read_current(ref).value.reveal() == leaked
    assert can_login(leaked, mariadb)


def test_wrong_admin_password_fails_without_printing_it(vault, mariadb, tmp_path: Path) -> None:
    password = fake(random.Random(4))
    leaked = mariadb.create_user("shop_app", password)
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/db", secret={"MYSQL_URL": leaked})
    bad_admin = mariadb.dsn("admin", "not-" + mariadb.admin_password)
    env = {"VAULT_TOKEN": vault.token, "BAD": bad_admin}
    with pytest.raises(Exception) as info:
        rotate(config(vault, tmp_path, env, {"type": "mysql", "admin_dsn_env": "BAD"}))
    assert "cannot connect as admin: access denied (1045)" in str(info.value)
    assert password not in str(info.value) and mariadb.admin_password not in str(info.value)
    assert can_login(leaked, mariadb)


@pytest.mark.parametrize(("target", "env", "needle"), [
    ({"type": "mysql"}, {}, "missing required key 'admin_dsn_env'"),
    ({"type": "mysql", "admin_dsn_env": "NOPE"}, {}, "NOPE (admin_dsn_env) is not set"),
    ({"type": "mysql", "admin_dsn_env": "A"}, {"A": "postgresql://u:p@h/db"}, "not a mysql:// DSN"),
    ({"type": "mysql", "admin_dsn_env": "A", "port": 1}, {"A": "mysql://u:p@h/"}, "unknown key 'port'"),
])
def test_mysql_target_config_errors(target: dict[str, Any], env: dict[str, str], needle: str) -> None:
    doc = {"backend": {"type": "vault", "url": "http://127.0.0.1:1", "token_env": "T"},
           "secrets": [{"name": "X", "path": "p", "target": target}]}
    with pytest.raises(ConfigError) as info:
        parse_config(doc, env={"T": "t", **env})
    assert needle in str(info.value)
