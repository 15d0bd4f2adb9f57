"""A Vault / OpenBao database secrets engine *static role* as a rotation target.

A static role maps one Vault role to one existing database user, and Vault
owns that user's password: ``POST {mount}/rotate-role/{role}`` makes Vault
choose a new password and set it in the database, ``GET
{mount}/static-creds/{role}`` reads it back. Vault cannot be told which
password to set, so this target *issues* the new value instead of accepting
one: :meth:`VaultDbTarget.issue` rotates the role and returns the stored
value (a DSN keeps everything but its password, or the bare password) with
Vault's new password in it; the protocol stages and promotes that value.
:meth:`apply` then only checks Vault still holds it.

Consequences worth knowing during an incident:

- the old password stops working the moment ``issue`` runs, before the store
  is updated; ``revert`` cannot bring it back (Vault has no such call), so a
  failed rotation says so and a re-run finishes it;
- a password change does not end sessions opened with the leaked password:
  with ``admin_dsn_env`` set, :meth:`prove_leak_dead` terminates the role's
  sessions that started before Vault's rotation;
- creating a static role already rotates its password once, and a role not
  in the connection's ``allowed_roles`` makes Vault answer HTTP 500.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from rotation.errors import ConfigError, TargetError
from rotation.generate import driver_dsn, dsn_password, dsn_user, is_dsn, with_password
from rotation.targets import TargetContext
from rotation.targets.base import LeakProof, Target
from sanitize.git import redact_url
from sanitize.secret import Secret

_KEYS = {"type", "role", "mount", "url", "token_env", "dsn", "admin_dsn_env", "connect_timeout"}


def _reason(exc: Exception) -> str:
    """Vault's own error text on one line (its ``errors`` list, without hvac's ", on METHOD URL")."""
    errors = getattr(exc, "errors", None) or [exc.args[0] if exc.args else type(exc).__name__]
    text = "; ".join(str(e) for e in errors)
    lines = [line.strip(" \t*") for line in text.splitlines()]
    parts = [line for line in lines if line and not line.endswith("error occurred:")]
    return " ".join(parts)[:300] or type(exc).__name__


def _auth_failed(exc: Exception) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate == "28P01" or "password authentication failed" in str(exc)


class VaultDbTarget(Target):
    """The database user behind Vault static role ``role`` (secrets engine mounted at ``mount``)."""

    kind = "vault_db"

    def __init__(
        self,
        url: str,
        token: Secret,
        *,
        role: str,
        mount: str = "database",
        login_dsn: str | None = None,
        admin_dsn: Secret | None = None,
        connect_timeout: int = 5,
        client: Any = None,
    ) -> None:
        if client is None:
            import hvac

            client = hvac.Client(url=url, token=token.reveal(), timeout=30)
        self.url = url
        self.role = role
        self.mount = mount.strip("/")
        self.login_dsn = login_dsn
        self.admin_dsn = admin_dsn
        self.connect_timeout = connect_timeout
        self._client = client
        self._rotated_at: str | None = None

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> VaultDbTarget:
        """``{type: vault_db, role: R[, mount: database][, url][, token_env][, dsn][, admin_dsn_env]}``.

        ``url``/``token_env`` default to the Vault backend's; ``dsn`` is a
        password-less login DSN, needed only when the stored value is a bare
        password. Connects to nothing.
        """
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        role = spec.get("role")
        if not isinstance(role, str) or not role.strip() or "/" in role:
            raise ConfigError("missing or invalid key 'role' (the static role's name)")
        mount = spec.get("mount", "database")
        if not isinstance(mount, str) or not mount.strip("/"):
            raise ConfigError("'mount' must be the database secrets engine's mount path")
        backend = ctx.backend
        url = spec.get("url") or (backend.url if backend.type == "vault" else None)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError("'url' must be the Vault address (http:// or https://); the backend is not Vault")
        token_env = spec.get("token_env")
        token: Secret | None = None
        if token_env is None and backend.type == "vault" and backend.url == url:
            token = backend.token
        if token is None:
            name = token_env or "VAULT_TOKEN"
            if not isinstance(name, str):
                raise ConfigError("'token_env' must be an environment variable name")
            raw = ctx.env.get(name)
            if not raw:
                raise ConfigError(f"environment variable {name} (token_env) is not set")
            token = Secret(raw)
        login = spec.get("dsn")
        if login is not None and (not isinstance(login, str) or not urlsplit(login).scheme or urlsplit(login).password):
            raise ConfigError("'dsn' must be a URL DSN without a password (the password comes from Vault)")
        admin: Secret | None = None
        admin_env = spec.get("admin_dsn_env")
        if admin_env is not None:
            if not isinstance(admin_env, str) or not ctx.env.get(admin_env):
                raise ConfigError(f"environment variable {admin_env} (admin_dsn_env) is not set")
            admin = Secret(ctx.env[admin_env])
        timeout = spec.get("connect_timeout", 5)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 300:
            raise ConfigError("'connect_timeout' must be an integer number of seconds (1-300)")
        return cls(
            url.rstrip("/"),
            token,
            role=role,
            mount=mount,
            login_dsn=login,
            admin_dsn=admin,
            connect_timeout=timeout,
        )

    # -- Vault ----------------------------------------------------------------------------------------------------

    @contextmanager
    def _vault(self, what: str) -> Iterator[None]:
        """hvac/requests errors → one TargetError line naming the role (never a value)."""
        import hvac.exceptions as hv
        import requests

        where = f"{self.mount}/{what}/{self.role}"
        try:
            yield
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise TargetError(f"vault_db: vault at {redact_url(self.url)} is unreachable ({where})") from exc
        except (hv.Forbidden, hv.Unauthorized) as exc:
            raise TargetError(f"vault_db: vault at {redact_url(self.url)} refused the token ({where})") from exc
        except hv.InvalidPath as exc:
            raise TargetError(
                f"vault_db: nothing at {where} (is the database engine mounted at {self.mount}?)"
            ) from exc
        except hv.InvalidRequest as exc:
            raise TargetError(f"vault_db: {where}: {_reason(exc)}") from exc
        except hv.InternalServerError as exc:
            raise TargetError(f"vault_db: {where}: vault failed (HTTP 500): {_reason(exc)}") from exc
        except hv.VaultError as exc:
            raise TargetError(f"vault_db: {where}: {type(exc).__name__}") from exc

    def credential(self) -> tuple[str, Secret]:
        """The static role's user name and current password, as Vault holds them."""
        with self._vault("static-creds"):
            resp = self._client.secrets.database.get_static_credentials(name=self.role, mount_point=self.mount)
        data = resp.get("data") or {}
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise TargetError(f"vault_db: {self.mount}/static-creds/{self.role} returned no username/password")
        self._rotated_at = data.get("last_vault_rotation") or self._rotated_at
        return username, Secret(password)

    def _value_with(self, template: Secret, password: Secret) -> Secret:
        """``template`` (the stored value) carrying ``password``: a DSN keeps all else; else the bare password."""
        raw = template.reveal()
        if is_dsn(raw):
            return Secret(with_password(raw, password.reveal()))
        return password

    def _check_user(self, value: Secret, username: str) -> None:
        user = dsn_user(value.reveal())
        if user is not None and user != username:
            raise TargetError(f"vault_db: the stored DSN's user is not role {self.role}'s database user {username}")

    def issue(self, current: Secret) -> Secret:
        """Rotate the role now and return ``current`` with Vault's new password.

        From here on the old password is dead in the database: the caller must
        store the returned value (and a failure after this point cannot be
        reverted, only completed by a re-run).
        """
        username, _ = self.credential()
        self._check_user(current, username)
        with self._vault("rotate-role"):
            self._client.secrets.database.rotate_static_role_credentials(name=self.role, mount_point=self.mount)
        _, password = self.credential()
        return self._value_with(current, password)

    # -- the database ---------------------------------------------------------------------------------------------

    def _login_dsn(self, value: Secret) -> str:
        raw = value.reveal()
        if is_dsn(raw):
            return raw
        if not self.login_dsn:
            raise TargetError("vault_db: the stored value is a bare password; set 'dsn' (a login DSN) on the target")
        return with_password(self.login_dsn, raw)

    def _connect(self, value: Secret) -> Any:
        import psycopg

        dsn = driver_dsn(self._login_dsn(value))
        return psycopg.connect(dsn, autocommit=True, connect_timeout=self.connect_timeout)

    # -- Target ---------------------------------------------------------------------------------------------------

    def apply(self, old: Secret, new: Secret) -> None:
        """Check Vault holds ``new``'s password (set by :meth:`issue`); Vault cannot take a chosen one."""
        username, password = self.credential()
        self._check_user(new, username)
        held = dsn_password(new.reveal())
        if (held if held is not None else new.reveal()) != password.reveal():
            raise TargetError(
                f"vault_db: Vault chooses role {self.role}'s password itself; the new value must come from "
                "issue() (nothing was changed)"
            )

    def test(self, value: Secret) -> None:
        """Log in to the database with ``value`` and check it is the role's user."""
        import psycopg

        username, _ = self.credential()
        try:
            with self._connect(value) as conn:
                row = conn.execute("SELECT current_user").fetchone()
        except psycopg.Error as exc:
            why = "password authentication failed" if _auth_failed(exc) else type(exc).__name__
            raise TargetError(f"vault_db: login as {username} with the new credential failed: {why}") from None
        if not row or row[0] != username:
            raise TargetError(f"vault_db: logged in, but not as role {self.role}'s user {username}")

    def revert(self, old: Secret, new: Secret) -> None:
        """Impossible: Vault already rotated the password and cannot set the old one back."""
        try:
            _, password = self.credential()
        except TargetError:
            password = None
        held = dsn_password(old.reveal())
        if password is not None and (held if held is not None else old.reveal()) == password.reveal():
            return  # issue() never ran: the old credential is still the live one
        raise TargetError(
            f"vault_db: Vault has rotated role {self.role}; the old password cannot be restored. "
            f"Read the live credential from {self.mount}/static-creds/{self.role} or re-run the rotation"
        )

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """Try the leaked credential (must be refused); end the role's sessions older than the rotation."""
        import psycopg

        username, _ = self.credential()
        try:
            conn = self._connect(leaked)
        except psycopg.OperationalError as exc:
            if not _auth_failed(exc):
                raise TargetError(
                    f"vault_db: could not prove the leaked credential dead: {type(exc).__name__}"
                ) from None
            rejected = True
        else:
            conn.close()
            rejected = False
        terminated = self._terminate_sessions(username) if self.admin_dsn is not None else 0
        detail = "leaked credential rejected" if rejected else "leaked credential still accepted"
        if self.admin_dsn is None:
            detail += "; sessions not terminated (no admin_dsn_env)"
        return LeakProof(leaked_rejected=rejected, sessions_terminated=terminated, detail=detail)

    def _terminate_sessions(self, username: str) -> int:
        import psycopg
        from psycopg import sql

        assert self.admin_dsn is not None
        since: sql.Composable = sql.SQL("now()")
        if self._rotated_at:
            try:
                stamp = datetime.fromisoformat(self._rotated_at.rstrip("Z")[:26])
                since = sql.SQL("{}::timestamptz").format(sql.Literal(stamp.isoformat() + "+00:00"))
            except ValueError:
                pass
        query = sql.SQL(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = {} AND pid <> pg_backend_pid() AND backend_start < {}"
        ).format(sql.Literal(username), since)
        try:
            with psycopg.connect(self.admin_dsn.reveal(), autocommit=True, connect_timeout=self.connect_timeout) as c:
                row = c.execute(query).fetchone()
        except psycopg.Error as exc:
            raise TargetError(f"vault_db: terminating {username}'s sessions failed: {type(exc).__name__}") from None
        return int(row[0]) if row else 0
