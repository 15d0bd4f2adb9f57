"""Vault database secrets engine static roles as a target, on OpenBao and a real PostgreSQL.

Setup per test: the ``database`` engine on the OpenBao dev server, a
connection to the throwaway cluster, and a static role for ``aurora_app``.
Creating the static role already rotates the password once (OpenBao does
that), so the "leaked" DSN is the one Vault handed out at creation.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import hvac.exceptions
import psycopg
import pytest

from demo.services import free_port
from rotation.backends.base import SecretRef
from rotation.backends.vault import VaultBackend
from rotation.config import BackendConfig
from rotation.errors import ConfigError, TargetError
from rotation.generate import GenerateSpec, dsn_password
from rotation.protocol import rotate_secret
from rotation.targets import TargetContext
from rotation.targets.vault_db import VaultDbTarget
from sanitize.secret import Secret

ROLE = "aurora-app"
DB_USER = "aurora_app"


def setup_static_role(vault, pg, *, allowed: str = ROLE) -> str:
    """Mount the engine, connect it to ``pg``, create the static role; return the role's current DSN."""
    client = vault.client
    pg.create_role(DB_USER, uuid.uuid4().hex)
    client.sys.enable_secrets_engine("database", path="database")
    client.secrets.database.configure(
        name="aurora",
        plugin_name="postgresql-database-plugin",
        allowed_roles=[allowed],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{pg.host}:{pg.port}/postgres",
        username="postgres",
        password=pg.admin_password,
        mount_point="database",
    )
    client.secrets.database.create_static_role(
        name=ROLE,
        db_name="aurora",
        username=DB_USER,
        rotation_statements=["ALTER USER \"{{name}}\" WITH PASSWORD '{{password}}';"],
        rotation_period=86400,
        mount_point="database",
    )
    creds = client.secrets.database.get_static_credentials(name=ROLE, mount_point="database")["data"]
    return pg.dsn(creds["username"], creds["password"])


def target_for(vault, pg=None, **kw) -> VaultDbTarget:
    admin = Secret(pg.admin_dsn) if pg is not None else None
    return VaultDbTarget(vault.url, Secret(vault.token), role=ROLE, admin_dsn=admin, **kw)


def logs_in(pg, dsn: str) -> bool:
    try:
        pg.connect(dsn).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.services
def test_issue_rotates_the_role_and_the_new_credential_logs_in(vault, pg) -> None:
    leaked = setup_static_role(vault, pg)
    assert logs_in(pg, leaked)
    target = target_for(vault)

    new = target.issue(Secret(leaked))

    assert new != Secret(leaked)
    before, after = urlsplit(leaked), urlsplit(new.reveal())
    assert (after.username, after.hostname, after.port, after.path) == (
        before.username,
        before.hostname,
        before.port,
        before.path,
    )
    vault_pw = vault.client.secrets.database.get_static_credentials(name=ROLE, mount_point="database")["data"]
    assert dsn_password(new.reveal()) == vault_pw["password"]
    assert logs_in(pg, new.reveal()), "the credential Vault issued must log in"
    assert not logs_in(pg, leaked), "the old password must be dead"
    target.apply(Secret(leaked), new)  # Vault holds it: nothing to do
    target.test(new)


@pytest.mark.services
def test_issue_then_store_then_promote_in_vault_kv(vault, pg) -> None:
    """The full create → set → test → finish with the issued value, on core's Vault KV backend."""
    leaked = setup_static_role(vault, pg)
    vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", secret={"DATABASE_URL": leaked, "x": "1"})
    backend = VaultBackend(vault.url, Secret(vault.token), mount="secret")
    ref = SecretRef(name="DATABASE_URL", path="aurora/db", key="DATABASE_URL")
    target = target_for(vault, pg)
    current = backend.read_current(ref)
    token = str(uuid.uuid4())

    new = target.issue(current.value)
    backend.stage_pending(ref, new, token)
    target.apply(current.value, new)
    target.test(new)
    backend.promote(ref, token, current.version, keep_previous=False)
    proof = target.prove_leak_dead(current.value)

    assert backend.read_current(ref).value == new
    assert logs_in(pg, backend.read_current(ref).value.reveal())
    assert proof.leaked_rejected and proof.detail == "leaked credential rejected"


@pytest.mark.services
def test_the_protocol_rotates_through_the_role_vault_issues_the_value(vault, pg) -> None:
    """The target mints the credential (rotate-role); the protocol stores it and the leak is proven dead."""
    leaked = setup_static_role(vault, pg)
    vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/db", secret={"DATABASE_URL": leaked})
    backend = VaultBackend(vault.url, Secret(vault.token), mount="secret")
    ref = SecretRef(name="DATABASE_URL", path="aurora/db", key="DATABASE_URL")
    before = backend.read_current(ref)

    rotate_secret(backend, ref, GenerateSpec(), target_for(vault, pg), mode="compromised")

    after = backend.read_current(ref)
    assert after.version != before.version
    assert after.value.reveal() != leaked
    assert logs_in(pg, after.value.reveal())
    assert not logs_in(pg, leaked), "the leaked credential must be rejected"


@pytest.mark.services
def test_prove_leak_dead_terminates_sessions_opened_with_the_leaked_password(vault, pg) -> None:
    leaked = setup_static_role(vault, pg)
    session = pg.connect(leaked)
    target = target_for(vault, pg)
    try:
        target.issue(Secret(leaked))
        proof = target.prove_leak_dead(Secret(leaked))
        assert proof.leaked_rejected
        assert proof.sessions_terminated == 1
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
    finally:
        session.close()


@pytest.mark.services
def test_revert_after_issue_says_the_old_password_is_gone(vault, pg) -> None:
    leaked = setup_static_role(vault, pg)
    target = target_for(vault)
    target.revert(Secret(leaked), Secret(leaked))  # nothing issued yet: the old credential is live, no-op
    new = target.issue(Secret(leaked))
    with pytest.raises(TargetError, match=r"cannot be restored.*database/static-creds/aurora-app"):
        target.revert(Secret(leaked), new)


@pytest.mark.services
def test_bare_password_values_log_in_through_the_configured_dsn(vault, pg) -> None:
    leaked = setup_static_role(vault, pg)
    login = f"postgresql://{DB_USER}@{pg.host}:{pg.port}/postgres"
    target = target_for(vault, login_dsn=login)
    new = target.issue(Secret(dsn_password(leaked) or ""))
    assert "@" not in new.reveal() and logs_in(pg, pg.dsn(DB_USER, new.reveal()))
    target.test(new)
    assert target.prove_leak_dead(Secret(dsn_password(leaked) or "")).leaked_rejected


@pytest.mark.services
def test_unknown_role_is_one_line(vault, pg) -> None:
    setup_static_role(vault, pg)
    target = VaultDbTarget(vault.url, Secret(vault.token), role="nope")
    with pytest.raises(TargetError) as exc:
        target.issue(Secret(pg.dsn(DB_USER, "x")))
    assert str(exc.value) == "vault_db: database/static-creds/nope: unknown role: nope"


@pytest.mark.services
def test_role_outside_allowed_roles_is_explained(vault, pg) -> None:
    with pytest.raises(hvac.exceptions.InternalServerError, match="not an allowed role"):
        setup_static_role(vault, pg, allowed="someone-else")  # OpenBao refuses the role itself with HTTP 500
    target = target_for(vault)
    with pytest.raises(TargetError) as exc:
        target.credential()
    assert str(exc.value) == "vault_db: database/static-creds/aurora-app: unknown role: aurora-app"


def test_unreachable_vault_is_one_line() -> None:
    target = VaultDbTarget(f"http://127.0.0.1:{free_port()}", Secret("t"), role=ROLE)
    with pytest.raises(TargetError) as exc:
        target.credential()
    assert str(exc.value).startswith("vault_db: vault at http://127.0.0.1:") and "unreachable" in str(exc.value)


def ctx(backend: BackendConfig, env: dict[str, str] | None = None) -> TargetContext:
    return TargetContext(secret_name="DATABASE_URL", backend=backend, env=env or {})


def test_from_config_defaults_to_the_vault_backend() -> None:
    backend = BackendConfig(type="vault", url="http://127.0.0.1:8200", token_env="VAULT_TOKEN", token=Secret("t"))
    target = VaultDbTarget.from_config({"type": "vault_db", "role": ROLE}, ctx(backend))
    assert (target.url, target.mount, target.role, target.admin_dsn) == (
        "http://127.0.0.1:8200",
        "database",
        ROLE,
        None,
    )


@pytest.mark.parametrize(
    ("spec", "env", "message"),
    [
        ({"type": "vault_db"}, {}, "missing or invalid key 'role'"),
        ({"type": "vault_db", "role": ROLE, "colour": 1}, {}, "unknown key 'colour'"),
        ({"type": "vault_db", "role": ROLE}, {}, "'url' must be the Vault address"),
        ({"type": "vault_db", "role": ROLE, "url": "http://v:8200"}, {}, "VAULT_TOKEN"),
        (
            {"type": "vault_db", "role": ROLE, "url": "http://v:8200", "dsn": "postgresql://u:pw@h/db"},
            {"VAULT_TOKEN": "t"},
            "without a password",
        ),
        (
            {"type": "vault_db", "role": ROLE, "url": "http://v:8200", "admin_dsn_env": "PG_ADMIN"},
            {"VAULT_TOKEN": "t"},
            "PG_ADMIN",
        ),
    ],
)
def test_from_config_refuses_bad_specs(spec: dict, env: dict[str, str], message: str) -> None:
    aws = BackendConfig(type="aws", region="us-east-1")
    with pytest.raises(ConfigError, match=message):
        VaultDbTarget.from_config(spec, ctx(aws, env))
