"""A MySQL / MariaDB account whose password is in a URL DSN: ``ALTER USER … IDENTIFIED BY`` over PyMySQL.

``mysql://user:pw@host:port/db`` (also ``mysql+pymysql://``, ``mariadb://``):
the account's name is the DSN's user; every ``user@host`` entry with that
name in ``mysql.user`` gets the new password, since any of them may accept
the leaked one. The statement is sent with PyMySQL's parameter quoting
(``ALTER USER %s@%s IDENTIFIED BY %s``), never by string formatting.

A password change does not end sessions that logged in with the leaked
password: compromised mode kills the user's connections whose id is lower
than the admin connection's id right after the change (connection ids only
grow), then proves a fresh login with the leaked DSN is refused (error 1045)
and the new one works.

When the admin DSN is the rotated account itself (a leaked root DSN), the
admin connection follows the password this target set. PyMySQL's error text
can echo the user and host but not the password; errors here carry the user
name and the MySQL error number only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from rotation.errors import TargetError
from rotation.targets import TargetContext, admin_dsn_target
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret

SCHEMES = ("mysql", "mysql+pymysql", "mysql+mysqldb", "mysql+mysqlconnector", "mariadb", "mariadb+pymysql")
ACCESS_DENIED = 1045


@dataclass(frozen=True)
class MysqlLogin:
    """What PyMySQL needs from a DSN (the password stays wrapped)."""

    user: str
    password: Secret
    host: str
    port: int
    database: str | None
    unix_socket: str | None = None


def parse_mysql_dsn(value: Secret) -> MysqlLogin:
    """Split a ``mysql://`` URL DSN; TargetError (without the value) if it is not one."""
    try:
        parts = urlsplit(value.reveal())
        port = parts.port or 3306
    except ValueError:
        raise TargetError("mysql: the stored value is not a valid URL DSN") from None
    if parts.scheme.lower() not in SCHEMES:
        raise TargetError(f"mysql: the stored value is not a mysql:// DSN (scheme {parts.scheme or 'none'!r})")
    if not parts.username or parts.password is None:
        raise TargetError("mysql: the stored value is not a URL DSN with a user and a password")
    query = parse_qs(parts.query)
    sockets = query.get("unix_socket") or query.get("socket")
    return MysqlLogin(user=unquote(parts.username), password=Secret(unquote(parts.password)),
                      host=parts.hostname or "localhost", port=port,
                      database=unquote(parts.path.lstrip("/")) or None,
                      unix_socket=sockets[0] if sockets else None)


def _errno(exc: Exception) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _why(exc: Exception) -> str:
    """A value-free description of a PyMySQL error."""
    code = _errno(exc)
    if code == ACCESS_DENIED:
        return "access denied (1045)"
    if code in (2003, 2013):
        return f"server unreachable ({code})"
    return type(exc).__name__ + (f" ({code})" if code else "")


class MysqlTarget(Target):
    """Rotates the password of the DSN's user on MySQL/MariaDB, through an admin connection."""

    kind = "mysql"

    def __init__(self, admin_dsn: Secret, *, connect_timeout: int = 5) -> None:
        self.admin = parse_mysql_dsn(admin_dsn)
        self.connect_timeout = connect_timeout
        self._changed = False  # did apply() reach the server? (revert is then needed)
        self._kill_below: int | None = None  # connections older than the change have lower ids

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> MysqlTarget:
        """``{type: mysql, admin_dsn_env: NAME[, connect_timeout: N]}``; the admin DSN is read from env now."""
        return admin_dsn_target(cls, spec, ctx)

    # -- helpers --------------------------------------------------------------------------

    def _open(self, login: MysqlLogin) -> Any:
        import pymysql

        return pymysql.connect(host=login.host, port=login.port, user=login.user,
                               password=login.password.reveal(), database=login.database,
                               unix_socket=login.unix_socket, connect_timeout=self.connect_timeout,
                               autocommit=True, charset="utf8mb4")

    def _connect(self, login: MysqlLogin, who: str) -> Any:
        import pymysql

        try:
            return self._open(login)
        except pymysql.Error as exc:
            raise TargetError(f"mysql: cannot connect as {who}: {_why(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - socket/ssl errors: only their type is safe to show
            raise TargetError(f"mysql: cannot connect as {who}: {type(exc).__name__}") from None

    def _set_password(self, user: str, password: Secret) -> None:
        import pymysql

        conn = self._connect(self.admin, "admin")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
                hosts = [str(row[0]) for row in cur.fetchall()]
                if not hosts:
                    raise TargetError(f"mysql: no account named {user!r} on the server")
                for host in hosts:
                    cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password.reveal()))
                    self._changed = True
                    if user == self.admin.user:
                        self.admin = replace(self.admin, password=password)  # our own login changed with it
                cur.execute("SELECT CONNECTION_ID()")
                row = cur.fetchone()
                self._kill_below = int(row[0]) if row else None
        except pymysql.Error as exc:
            raise TargetError(f"mysql: ALTER USER {user} failed: {_why(exc)}") from None
        finally:
            conn.close()

    # -- Target ---------------------------------------------------------------------------

    def apply(self, old: Secret, new: Secret) -> None:
        """Set every ``user@host`` account of the DSN's user to the new password."""
        login, old_login = parse_mysql_dsn(new), parse_mysql_dsn(old)
        if login.user != old_login.user:
            raise TargetError("mysql: the new DSN names another user than the current one")
        self._changed = False
        self._set_password(login.user, login.password)

    def test(self, value: Secret) -> None:
        """Log in with the DSN and run a query."""
        import pymysql

        login = parse_mysql_dsn(value)
        conn = self._connect(login, login.user)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        except pymysql.Error as exc:
            raise TargetError(f"mysql: test query as {login.user} failed: {_why(exc)}") from None
        finally:
            conn.close()

    def revert(self, old: Secret, new: Secret) -> None:
        """Give the accounts their old password back; a no-op when apply never reached the server."""
        if not self._changed:
            return
        login = parse_mysql_dsn(old)
        self._set_password(login.user, login.password)
        self._changed = False

    def _kill_old_sessions(self, user: str) -> int:
        import pymysql

        conn = self._connect(self.admin, "admin")
        killed = 0
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s AND ID <> CONNECTION_ID()",
                            (user,))
                for (pid,) in cur.fetchall():
                    if self._kill_below is not None and int(pid) >= self._kill_below:
                        continue  # logged in after the change: it knows the new password
                    try:
                        cur.execute("KILL CONNECTION %s", (int(pid),))
                        killed += 1
                    except pymysql.Error as exc:
                        if _errno(exc) != 1094:  # "unknown thread": it ended by itself meanwhile
                            raise
        except pymysql.Error as exc:
            raise TargetError(f"mysql: killing {user}'s sessions failed: {_why(exc)}") from None
        finally:
            conn.close()
        return killed

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """End the user's sessions older than the change, then log in with the leaked DSN (must be refused)."""
        import pymysql

        login = parse_mysql_dsn(leaked)
        killed = self._kill_old_sessions(login.user)
        try:
            conn = self._open(login)
        except pymysql.Error as exc:
            if _errno(exc) != ACCESS_DENIED:
                raise TargetError(f"mysql: could not prove the leaked credential dead: {_why(exc)}") from None
            rejected = True
        else:
            conn.close()
            rejected = False
        detail = ("leaked login refused (access denied, 1045)" if rejected else "leaked login still accepted")
        return LeakProof(leaked_rejected=rejected, sessions_terminated=killed, detail=detail)
