"""A PostgreSQL role whose password is in a DSN: ``ALTER ROLE`` over psycopg.

The new password leaves this process only as a client-side SCRAM-SHA-256
verifier (``PGconn.encrypt_password``), so the plaintext never reaches the
server or its logs. ``ALTER ROLE`` takes no bind parameters, so the statement
is composed with ``psycopg.sql`` (Identifier for the role, Literal for the
verifier), never by string formatting.

A password change does not end sessions that logged in with the leaked
password; compromised mode terminates the role's sessions that started
before the change (``pg_terminate_backend``) and reports how many.

psycopg's error text can echo connection parameters, so errors here carry
the role name and the SQLSTATE class only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from rotation.errors import TargetError
from rotation.generate import driver_dsn, dsn_password, dsn_user
from rotation.targets import TargetContext, admin_dsn_target
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret


def _why(exc: Exception) -> str:
    """A value-free description of a psycopg error."""
    state = getattr(exc, "sqlstate", None)
    text = str(exc)
    if "password authentication failed" in text:
        return "password authentication failed"
    if "Connection refused" in text or "could not connect" in text or "timeout expired" in text:
        return "server unreachable"
    return type(exc).__name__ + (f" (SQLSTATE {state})" if state else "")


class PostgresTarget(Target):
    """Rotates the password of the DSN's user, through an admin connection."""

    kind = "postgres"

    def __init__(self, admin_dsn: Secret, *, connect_timeout: int = 5) -> None:
        self.admin_dsn = admin_dsn
        self.connect_timeout = connect_timeout
        self._changed_at: datetime | None = None
        self._changed = False  # did apply() reach the database? (revert is then needed)

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> PostgresTarget:
        """``{type: postgres, admin_dsn_env: NAME[, connect_timeout: N]}``; the admin DSN is read from env now."""
        return admin_dsn_target(cls, spec, ctx)

    # -- helpers --------------------------------------------------------------------------

    def _connect(self, dsn: Secret, who: str) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(driver_dsn(dsn.reveal()), autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            raise TargetError(f"postgres: cannot connect as {who}: {_why(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - a malformed DSN raises ProgrammingError/ValueError with its text
            raise TargetError(f"postgres: cannot connect as {who}: {type(exc).__name__}") from None

    @staticmethod
    def _role_and_password(value: Secret) -> tuple[str, str]:
        user, password = dsn_user(value.reveal()), dsn_password(value.reveal())
        if not user or password is None:
            raise TargetError("postgres: the stored value is not a URL DSN with a user and a password")
        return user, password

    def _set_password(self, role: str, password: str) -> None:
        with self._connect(self.admin_dsn, "admin") as conn:
            try:
                verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
                stmt = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                                   sql.Literal(verifier.decode("ascii")))
                conn.execute(stmt)
                self._changed = True
                row = conn.execute("SELECT clock_timestamp()").fetchone()
                self._changed_at = row[0] if row else None
            except psycopg.Error as exc:
                raise TargetError(f"postgres: ALTER ROLE {role} failed: {_why(exc)}") from None

    # -- Target ---------------------------------------------------------------------------

    def apply(self, old: Secret, new: Secret) -> None:
        """Set the role's password to the new DSN's password (as a SCRAM verifier)."""
        role, password = self._role_and_password(new)
        old_role, _ = self._role_and_password(old)
        if role != old_role:
            raise TargetError("postgres: the new DSN names another user than the current one")
        self._changed = False
        self._set_password(role, password)

    def test(self, value: Secret) -> None:
        """Log in with the DSN and run a query."""
        role, _ = self._role_and_password(value)
        with self._connect(value, role) as conn:
            try:
                conn.execute("SELECT 1").fetchone()
            except psycopg.Error as exc:
                raise TargetError(f"postgres: test query as {role} failed: {_why(exc)}") from None

    def revert(self, old: Secret, new: Secret) -> None:
        """Give the role its old password back (a fresh verifier of the same password).

        A no-op when apply never changed the role (e.g. the admin could not connect).
        """
        if not self._changed:
            return
        role, password = self._role_and_password(old)
        self._set_password(role, password)
        self._changed = False

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """Try the leaked DSN (must be refused), then end the role's sessions older than the change."""
        role, _ = self._role_and_password(leaked)
        try:
            conn = psycopg.connect(driver_dsn(leaked.reveal()), autocommit=True, connect_timeout=self.connect_timeout)
        except Exception as exc:  # noqa: BLE001 - any driver error text may quote the leaked DSN: keep only _why
            reason = _why(exc)
            if reason != "password authentication failed":
                raise TargetError(f"postgres: could not prove the leaked credential dead: {reason}") from None
            rejected = True
        else:
            conn.close()
            rejected = False
        with self._connect(self.admin_dsn, "admin") as admin:
            try:
                query = sql.SQL(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE usename = {} AND pid <> pg_backend_pid() AND backend_start < {}"
                ).format(sql.Literal(role), sql.Literal(self._changed_at) if self._changed_at else sql.SQL("now()"))
                row = admin.execute(query).fetchone()
            except psycopg.Error as exc:
                raise TargetError(f"postgres: terminating {role}'s sessions failed: {_why(exc)}") from None
        terminated = int(row[0]) if row else 0
        detail = "leaked credential rejected" if rejected else "leaked credential still accepted"
        return LeakProof(leaked_rejected=rejected, sessions_terminated=terminated, detail=detail)
