"""The ``sql`` target's MariaDB/MySQL side: one row's hash column read, swapped and restored over PyMySQL.

MariaDB and MySQL have neither bcrypt nor argon2 functions, so the hash
arrives here computed (:mod:`rotation.password_hashes`) and is sent as a bind
parameter (PyMySQL's ``%s`` quoting); identifiers are backtick-quoted after
validation. The swap is one transaction: ``SELECT … FOR UPDATE`` (exactly one
row, else rollback), then ``UPDATE``, so the old hash returned is the one
replaced. Errors carry the table and the MySQL error number, never a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rotation.errors import TargetError
from rotation.targets.mysql import MysqlLogin, _why, parse_mysql_dsn
from sanitize.secret import Secret


def quote_identifier(name: str) -> str:
    """``name`` (or ``db.name``) backtick-quoted, backticks doubled."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in name.split("."))


class MysqlHashTable:
    """One table's password-hash column on MariaDB/MySQL, through the admin (or app-owner) login."""

    def __init__(self, admin_dsn: Secret, *, connect_timeout: int, table: str, column: str,
                 where: Sequence[tuple[str, str | int]]) -> None:
        self.login: MysqlLogin = parse_mysql_dsn(admin_dsn)
        if not self.login.database and "." not in table:
            raise TargetError("sql: name the database in the admin DSN (mysql://…/DB) or the table as DB.TABLE")
        self.connect_timeout = connect_timeout
        self.table_name = table
        self.table = quote_identifier(table)
        self.column = quote_identifier(column)
        self.where_sql = " AND ".join(f"{quote_identifier(k)} = %s" for k, _ in where)
        self.where_params = [v for _, v in where]
        self.account = ", ".join(f"{k}={v}" for k, v in where)

    def _connect(self) -> Any:
        import pymysql

        try:
            return pymysql.connect(host=self.login.host, port=self.login.port, user=self.login.user,
                                   password=self.login.password.reveal(), database=self.login.database,
                                   unix_socket=self.login.unix_socket, connect_timeout=self.connect_timeout,
                                   autocommit=False, charset="utf8mb4")
        except pymysql.Error as exc:
            raise TargetError(f"sql: cannot connect as admin: {_why(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - socket errors: only their type is safe to show
            raise TargetError(f"sql: cannot connect as admin: {type(exc).__name__}") from None

    def _locked_rows(self, cur: Any) -> list[Any]:
        cur.execute(f"SELECT {self.column} FROM {self.table} WHERE {self.where_sql} FOR UPDATE",  # noqa: S608
                    self.where_params)
        rows = list(cur.fetchall())
        if len(rows) != 1:
            raise TargetError(f"sql: {self.table_name} has {len(rows)} rows where {self.account}; "
                              "'where' must pick exactly one account (nothing was changed)")
        return rows

    def _transaction(self, what: str, new_hash: Secret | None) -> str | None:
        """Lock the one row, optionally set its hash, commit; the hash it held before."""
        import pymysql

        conn = self._connect()
        try:
            with conn.cursor() as cur:
                (row,) = self._locked_rows(cur)
                if new_hash is not None:
                    cur.execute(f"UPDATE {self.table} SET {self.column} = %s WHERE {self.where_sql}",  # noqa: S608
                                [new_hash.reveal() or None, *self.where_params])
            conn.commit()
            return None if row[0] is None else str(row[0])
        except pymysql.Error as exc:
            conn.rollback()
            raise TargetError(f"sql: {what} on {self.table_name} failed: {_why(exc)}") from None
        except TargetError:
            conn.rollback()
            raise
        finally:
            conn.close()

    def swap(self, new_hash: Secret) -> Secret:
        """Set the row's hash to ``new_hash``; the hash it replaced."""
        return Secret(self._transaction("UPDATE", new_hash) or "")

    def read(self) -> str:
        """The row's hash now ("" for NULL)."""
        return self._transaction("reading the hash", None) or ""

    def restore(self, old_hash: Secret) -> None:
        """Write ``old_hash`` back byte for byte (NULL for "")."""
        self._transaction("restoring the old hash", old_hash)
