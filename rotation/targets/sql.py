"""An application's own password hash in a PostgreSQL table (an admin account like ADMIN_PASSWORD).

Many apps keep their admin login as a bcrypt hash in their own ``users``
table: rotating ``ADMIN_PASSWORD`` in the store alone changes nothing there,
and the leaked login keeps working even after a restart. This target sets the
hash with the database's own functions (pgcrypto's ``crypt(new,
gen_salt('bf', cost))``), so no hashing library is needed here and the hash
is the ``$2a$`` bcrypt every bcrypt library verifies.

```yaml
target: {type: sql, admin_dsn_env: APP_DB_DSN, table: app_users, column: password_hash,
         where: {username: admin}, cost: 12}
```

``where`` must match exactly one row (else nothing changes). The old hash is
kept in memory for a rollback (``revert`` writes it back unchanged). The proof
is the database's own check: ``crypt(leaked, hash) = hash`` must be false,
and ``crypt(new, hash) = hash`` true. Values travel as bind parameters, never
in the statement text; identifiers are composed with ``psycopg.sql``.
Errors carry the table and SQLSTATE, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from rotation.errors import ConfigError, TargetError
from rotation.generate import driver_dsn
from rotation.targets import ADMIN_DSN_KEYS, TargetContext, admin_dsn_target
from rotation.targets.base import LeakProof, Target
from rotation.targets.postgres import _why
from sanitize.secret import Secret

_KEYS = ADMIN_DSN_KEYS | {"table", "column", "where", "cost", "hash"}
_MISSING_PGCRYPTO = ("pgcrypto's crypt()/gen_salt() are not available in this database: run CREATE EXTENSION "
                     "pgcrypto (Debian ships it in the server package postgresql-NN; postgresql-contrib pulls it in)")


def _identifier(value: object, key: str, *, dotted: bool = False) -> sql.Identifier:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ConfigError(f"'{key}' must be a non-empty name")
    parts = value.split(".") if dotted else [value]
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"'{key}' must be NAME or SCHEMA.NAME")
    return sql.Identifier(*parts)


class SqlHashTarget(Target):
    """Sets one row's password-hash column with pgcrypto, through an admin (or app-owner) connection."""

    kind = "sql"

    def __init__(self, admin_dsn: Secret, *, connect_timeout: int = 5, table: str = "", column: str = "",
                 where: Mapping[str, str | int] | None = None, cost: int = 12) -> None:
        self.admin_dsn = admin_dsn
        self.connect_timeout = connect_timeout
        self.table_name = table
        self.table = _identifier(table, "table", dotted=True)
        self.column = _identifier(column, "column")
        self.column_name = column
        if not where or not isinstance(where, Mapping):
            raise ConfigError("'where' must map column names to the values that pick the one account row")
        self.where_items = [(_identifier(k, f"where.{k}"), v) for k, v in where.items()]
        for k, v in where.items():
            if isinstance(v, bool) or not isinstance(v, str | int) or not str(v).isprintable():
                raise ConfigError(f"'where.{k}' must be a string or an integer")
        self.account = ", ".join(f"{k}={v}" for k, v in where.items())
        if isinstance(cost, bool) or not isinstance(cost, int) or not 4 <= cost <= 31:
            raise ConfigError("'cost' must be the bcrypt cost, an integer from 4 to 31")
        self.cost = cost
        self._old_hash: Secret | None = None

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> SqlHashTarget:
        """``{type: sql, admin_dsn_env, table, column, where: {col: value}[, cost: 12][, hash: bcrypt]}``."""
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        if spec.get("hash", "bcrypt") != "bcrypt":
            raise ConfigError("'hash' must be bcrypt: pgcrypto has no argon2 or scrypt (hash those in the app)")
        for key in ("table", "column", "where"):
            if key not in spec:
                raise ConfigError(f"missing required key {key!r}")
        fields = {"table": spec["table"], "column": spec["column"], "where": spec["where"],
                  "cost": spec.get("cost", 12)}
        base = {k: v for k, v in spec.items() if k in ADMIN_DSN_KEYS}

        def build(admin: Secret, *, connect_timeout: int) -> SqlHashTarget:
            return cls(admin, connect_timeout=connect_timeout, **fields)

        return admin_dsn_target(build, base, ctx)

    # -- helpers --------------------------------------------------------------------------

    def _where(self) -> tuple[sql.Composed, list[str | int]]:
        clause = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(ident) for ident, _ in self.where_items)
        return clause, [v for _, v in self.where_items]

    def _run(self, what: str, query: sql.Composed, params: list[Any], *, one_row: bool = True) -> Any:
        """Run ``query`` in one transaction; the single row it returns (TargetError unless exactly one)."""
        try:
            with psycopg.connect(driver_dsn(self.admin_dsn.reveal()), connect_timeout=self.connect_timeout) as conn:
                rows = conn.execute(query, params).fetchall()
                if one_row and len(rows) != 1:
                    conn.rollback()
                    raise TargetError(f"sql: {self.table_name} has {len(rows)} rows where {self.account}; "
                                      "'where' must pick exactly one account (nothing was changed)")
                return rows[0] if rows else None
        except psycopg.errors.UndefinedFunction:
            raise TargetError(f"sql: {_MISSING_PGCRYPTO}") from None
        except psycopg.Error as exc:
            raise TargetError(f"sql: {what} on {self.table_name} failed: {_why(exc)}") from None
        except TargetError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed DSN's error text may quote it
            raise TargetError(f"sql: cannot connect as admin: {type(exc).__name__}") from None

    def _matches(self, value: Secret) -> bool:
        where, params = self._where()
        query = sql.SQL("SELECT crypt(%s, {col}) = {col} FROM {table} WHERE ").format(
            col=self.column, table=self.table) + where
        row = self._run("checking the hash", query, [value.reveal(), *params])
        return bool(row[0])

    # -- Target ---------------------------------------------------------------------------

    def apply(self, old: Secret, new: Secret) -> None:
        """One UPDATE: the row's hash becomes ``crypt(new, gen_salt('bf', cost))``; the old hash is returned."""
        where, params = self._where()
        # The old value is read in the same statement (a self-join on the locked row), so revert restores it.
        query = sql.SQL(
            "UPDATE {table} AS t SET {col} = crypt(%s, gen_salt('bf', %s)) FROM "
            "(SELECT ctid, {col} AS before FROM {table} WHERE "
        ).format(table=self.table, col=self.column) + where + sql.SQL(
            " FOR UPDATE) AS o WHERE t.ctid = o.ctid RETURNING o.before")
        row = self._run("UPDATE", query, [new.reveal(), self.cost, *params])
        self._old_hash = Secret(str(row[0])) if row and row[0] is not None else Secret("")

    def test(self, value: Secret) -> None:
        """The database itself says ``crypt(value, hash) = hash``."""
        if not self._matches(value):
            raise TargetError(f"sql: the new hash in {self.table_name} does not verify the new password")

    def revert(self, old: Secret, new: Secret) -> None:
        """Write the hash apply() replaced back, byte for byte (a no-op when apply changed nothing)."""
        if self._old_hash is None:
            return
        where, params = self._where()
        query = sql.SQL("UPDATE {table} SET {col} = %s WHERE ").format(table=self.table, col=self.column) + where \
            + sql.SQL(" RETURNING 1")
        self._run("restoring the old hash", query, [self._old_hash.reveal() or None, *params])
        self._old_hash = None

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """``crypt(leaked, hash) = hash`` must now be false (the database's own password check)."""
        rejected = not self._matches(leaked)
        detail = (f"crypt(leaked, hash) no longer matches {self.table_name}.{self.column_name} "
                  f"where {self.account}") if rejected else f"the leaked password still matches {self.table_name}"
        return LeakProof(leaked_rejected=rejected, detail=detail)
