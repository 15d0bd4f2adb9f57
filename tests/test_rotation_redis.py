"""The ``redis`` target against a real redis-server (Debian's package) and a real OpenBao store."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import pytest
import redis

from rotation.backends.base import SecretRef
from rotation.backends.vault import VaultBackend
from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import ConfigError, TargetError
from rotation.generate import GenerateSpec, dsn_password
from rotation.protocol import rotate_secret
from rotation.targets.redis import RedisTarget
from sanitize.secret import Secret

pytestmark = pytest.mark.services


def fake(rng: random.Random, n: int = 24) -> str:
    """A seeded fake secret, built at run time."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def auth_ok(server: Any, dsn: str) -> bool:
    client = server.client(dsn)
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        return False
    finally:
        client.close()


def config(vault: Any, tmp: Path, env: dict[str, str]) -> Any:
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": str(tmp / "audit.log"), "lock_dir": str(tmp / "locks"),
           "secrets": [{"name": "REDIS_URL", "path": "shop/cache", "key": "REDIS_URL",
                        "target": {"type": "redis", "admin_dsn_env": "REDIS_ADMIN_DSN"}}]}
    return parse_config(doc, env=env)


def _stored(vault: Any) -> str:
    data = vault.client.secrets.kv.v2.read_secret_version(path="shop/cache", raise_on_deleted_version=True)
    return str(data["data"]["data"]["REDIS_URL"])


def test_acl_user_rotation_refuses_the_leaked_auth_and_kills_its_clients(vault, redis_server, tmp_path: Path) -> None:
    rng = random.Random(6379)
    password = fake(rng)
    leaked = redis_server.create_user("cache_app", password) + "?socket_keepalive=true"
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/cache", secret={"REDIS_URL": leaked})
    consumer = redis_server.client(leaked)
    consumer.set("k", "v")  # an authenticated connection opened with the leaked password
    lines: list[str] = []
    summary = rotate(config(vault, tmp_path, {"VAULT_TOKEN": vault.token, "REDIS_ADMIN_DSN": redis_server.admin_dsn}),
                     mode="compromised", log=lines.append)

    assert summary.rotated == ["REDIS_URL"]
    new = _stored(vault)
    new_pw = dsn_password(new) or ""
    assert new.replace(new_pw, "PW") == leaked.replace(password, "PW") and new != leaked
    assert auth_ok(redis_server, new) and not auth_ok(redis_server, leaked)
    assert summary.outcomes[0].leaked_rejected is True and summary.outcomes[0].sessions_terminated == 1
    consumer.connection_pool.reset()  # redis-py would silently re-AUTH; a fresh AUTH with the leak must fail
    with pytest.raises(redis.AuthenticationError):
        consumer.get("k")
    # The user's other rules survived: the new login still reads and writes.
    assert redis_server.client(new).get("k") == b"v"
    records = [json.loads(line) for line in lines]
    assert [r["status"] for r in records if r["step"] == "prove"] == ["leaked credential rejected"]
    text = "\n".join(lines) + (tmp_path / "audit.log").read_text() + str(summary)
    for value in (password, leaked, new, new_pw, redis_server.password):
        assert value not in text


def test_default_user_rotation_uses_requirepass_even_when_it_is_the_admin(vault, redis_server,
                                                                          tmp_path: Path) -> None:
    leaked = redis_server.admin_dsn  # the leaked DSN is the default user's, and the admin DSN is the same
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/cache", secret={"REDIS_URL": leaked})
    summary = rotate(config(vault, tmp_path, {"VAULT_TOKEN": vault.token, "REDIS_ADMIN_DSN": leaked}))
    assert summary.rotated == ["REDIS_URL"] and summary.outcomes[0].leaked_rejected is True
    new = _stored(vault)
    assert new.startswith("redis://:") and auth_ok(redis_server, new) and not auth_ok(redis_server, leaked)
    admin = redis_server.client(new)
    assert admin.config_get("requirepass")["requirepass"] == dsn_password(new)


def test_rollback_gives_the_acl_user_its_old_password_back(vault, redis_server) -> None:
    password = fake(random.Random(5))
    leaked = redis_server.create_user("cache_app", password)
    vault.client.secrets.kv.v2.create_or_update_secret(path="shop/cache", secret={"REDIS_URL": leaked})

    class Failing(RedisTarget):
        def test(self, value: Secret) -> None:
            raise TargetError("redis: simulated test failure")

    backend = VaultBackend(vault.url, Secret(vault.token))
    ref = SecretRef(name="REDIS_URL", path="shop/cache", key="REDIS_URL")
    with pytest.raises(TargetError, match="target reverted"):
        rotate_secret(backend, ref, GenerateSpec(), Failing(Secret(redis_server.admin_dsn)))
    assert backend.read_current(ref).value.reveal() == leaked
    assert auth_ok(redis_server, leaked)
    users = redis_server.client().execute_command("ACL", "GETUSER", "cache_app")
    assert len(users[b"passwords"]) == 1  # the rolled-back password was removed, not left beside the old one


def test_redis_target_rejects_a_non_redis_admin_dsn() -> None:
    doc = {"backend": {"type": "vault", "url": "http://127.0.0.1:1", "token_env": "T"},
           "secrets": [{"name": "X", "path": "p", "target": {"type": "redis", "admin_dsn_env": "A"}}]}
    with pytest.raises(ConfigError, match="not a redis:// DSN"):
        parse_config(doc, env={"T": "t", "A": "mysql://u:p@h/"})
