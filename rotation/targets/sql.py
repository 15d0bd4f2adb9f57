"""An application's own password hash in its database table (an admin account like ADMIN_PASSWORD).

Many apps keep their admin login as a bcrypt or argon2 hash in their own
``users`` table: rotating ``ADMIN_PASSWORD`` in the store alone changes
nothing there, and the leaked login keeps working even after a restart. This
target sets that one row's hash. Where the hash is computed:

=====================  ==========  =========================================================
database (admin DSN)   ``hash``    computed by
=====================  ==========  =========================================================
PostgreSQL             bcrypt      the database: pgcrypto's ``crypt(new, gen_salt('bf', cost))``
PostgreSQL             argon2id    here (argon2-cffi); only the hash is sent
MariaDB / MySQL        bcrypt      here (bcrypt); only the hash is sent
MariaDB / MySQL        argon2id    here (argon2-cffi); only the hash is sent
=====================  ==========  =========================================================

No database has an argon2 function, and MariaDB/MySQL have no bcrypt: a
client-side hash means the password itself never reaches the database (nor
its statement log), only the hash the app will read.

```yaml
target: {type: sql, admin_dsn_env: APP_DB_DSN, table: app_users, column: password_hash,
         where: {username: admin}, cost: 12}                                  # bcrypt (default)
target: {type: sql, admin_dsn_env: APP_DB_DSN, table: app_users, column: password_hash,
         where: {username: admin}, hash: argon2id, time_cost: 3, memory_cost: 65536, parallelism: 4}
```

The admin DSN's scheme picks the database (``postgresql://`` or libpq keywords;
``mysql://``/``mariadb://``, whose path names the database). ``where`` must
match exactly one row (else nothing changes). The old hash is kept in memory
for a rollback (``revert`` writes it back unchanged). The proof is the
check the app itself makes against the hash now in the row: for PostgreSQL
bcrypt the database's own ``crypt(leaked, hash) = hash`` must be false;
otherwise the hash read back must not verify the leaked password (and must
verify the new one) with the same library an app uses. Values travel as bind
parameters, never in the statement text; identifiers are composed with
``psycopg.sql`` (PostgreSQL) or backtick-quoted (MariaDB). Errors carry the
table and SQLSTATE / error number, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from rotation import password_hashes
from rotation.errors import ConfigError, TargetError
from rotation.generate import driver_dsn
from rotation.password_hashes import HashSpec
from rotation.targets import ADMIN_DSN_KEYS, TargetContext, admin_dsn_target
from rotation.targets.base import LeakProof, Target
from rotation.targets.postgres import _why
from sanitize.secret import Secret

if TYPE_CHECKING:
    from rotation.targets.sql_mysql import MysqlHashTable

_ARGON2_KEYS = ("time_cost", "memory_cost", "parallelism")
_KEYS = ADMIN_DSN_KEYS | {"table", "column", "where", "cost", "hash", *_ARGON2_KEYS}
_MISSING_PGCRYPTO = ("pgcrypto's crypt()/gen_salt() are not available in this database: run CREATE EXTENSION "
                     "pgcrypto (Debian ships it in the server package postgresql-NN; postgresql-contrib pulls it in)")


def _identifier(value: object, key: str, *, dotted: bool = False) -> sql.Identifier:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ConfigError(f"'{key}' must be a non-empty name")
    parts = value.split(".") if dotted else [value]
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"'{key}' must be NAME or SCHEMA.NAME")
    return sql.Identifier(*parts)


def _is_mysql(dsn: Secret) -> bool:
    from rotation.targets.mysql import SCHEMES

    scheme, sep, _ = dsn.reveal().partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


class SqlHashTarget(Target):
    """Sets one row's password-hash column (PostgreSQL or MariaDB/MySQL), through an admin (or app-owner) login."""

    kind = "sql"

    def __init__(self, admin_dsn: Secret, *, connect_timeout: int = 5, table: str = "", column: str = "",
                 where: Mapping[str, str | int] | None = None, cost: int = 12,
                 hash_spec: HashSpec | None = None) -> None:
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
        self.hash_spec = hash_spec or HashSpec(cost=cost)
        self.mysql: MysqlHashTable | None = None
        if _is_mysql(admin_dsn):
            from rotation.targets.sql_mysql import MysqlHashTable

            self.mysql = MysqlHashTable(admin_dsn, connect_timeout=connect_timeout, table=table, column=column,
                                        where=list(where.items()))
        #: PostgreSQL computes bcrypt itself (pgcrypto); every other pair is hashed here and only the hash is sent.
        self.server_side = self.mysql is None and self.hash_spec.scheme == "bcrypt"
        self._old_hash: Secret | None = None

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> SqlHashTarget:
        """``{type: sql, admin_dsn_env, table, column, where: {col: value}[, hash: bcrypt|argon2id]
        [, cost: 12 (bcrypt)][, time_cost, memory_cost, parallelism (argon2id)]}``."""
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        scheme = spec.get("hash", "bcrypt")
        scheme = password_hashes.ALIASES.get(scheme, scheme) if isinstance(scheme, str) else scheme
        if scheme not in password_hashes.SCHEMES:
            raise ConfigError("'hash' must be bcrypt or argon2id (argon2); scrypt and others: hash them in the app "
                              "with a `command` target")
        if scheme == "bcrypt" and any(k in spec for k in _ARGON2_KEYS):
            raise ConfigError(f"{', '.join(k for k in _ARGON2_KEYS if k in spec)} apply to hash: argon2id only")
        if scheme == "argon2id" and "cost" in spec:
            raise ConfigError("'cost' is bcrypt's; argon2id takes time_cost, memory_cost (KiB) and parallelism")
        for key in ("table", "column", "where"):
            if key not in spec:
                raise ConfigError(f"missing required key {key!r}")
        hash_spec = HashSpec(scheme=str(scheme), cost=spec.get("cost", 12),
                             **{k: spec[k] for k in _ARGON2_KEYS if k in spec})
        fields = {"table": spec["table"], "column": spec["column"], "where": spec["where"],
                  "cost": spec.get("cost", 12), "hash_spec": hash_spec}
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

    def _current_hash(self) -> str:
        if self.mysql is not None:
            return self.mysql.read()
        where, params = self._where()
        query = sql.SQL("SELECT {col} FROM {table} WHERE ").format(col=self.column, table=self.table) + where
        row = self._run("reading the hash", query, params)
        return "" if row[0] is None else str(row[0])

    def _matches(self, value: Secret) -> bool:
        if not self.server_side:  # the app's own check: the hash in the row against the password, here
            return password_hashes.verify(self._current_hash(), value)
        where, params = self._where()
        query = sql.SQL("SELECT crypt(%s, {col}) = {col} FROM {table} WHERE ").format(
            col=self.column, table=self.table) + where
        row = self._run("checking the hash", query, [value.reveal(), *params])
        return bool(row[0])

    # -- Target ---------------------------------------------------------------------------

    def apply(self, old: Secret, new: Secret) -> None:
        """One UPDATE of the one row: pgcrypto's bcrypt, or a hash computed here; the old hash is kept."""
        if self.mysql is not None:
            self._old_hash = self.mysql.swap(self.hash_spec.hash(new))
            return
        where, params = self._where()
        if self.server_side:
            value_sql, values = sql.SQL("crypt(%s, gen_salt('bf', %s))"), [new.reveal(), self.cost]
        else:
            value_sql, values = sql.SQL("%s"), [self.hash_spec.hash(new).reveal()]
        # The old value is read in the same statement (a self-join on the locked row), so revert restores it.
        query = sql.SQL(
            "UPDATE {table} AS t SET {col} = {value} FROM "
            "(SELECT ctid, {col} AS before FROM {table} WHERE "
        ).format(table=self.table, col=self.column, value=value_sql) + where + sql.SQL(
            " FOR UPDATE) AS o WHERE t.ctid = o.ctid RETURNING o.before")
        row = self._run("UPDATE", query, [*values, *params])
        self._old_hash = Secret(str(row[0])) if row and row[0] is not None else Secret("")

    def test(self, value: Secret) -> None:
        """The hash now in the row verifies ``value`` (the database's ``crypt``, or the hash library here)."""
        if not self._matches(value):
            raise TargetError(f"sql: the new hash in {self.table_name} does not verify the new password")

    def revert(self, old: Secret, new: Secret) -> None:
        """Write the hash apply() replaced back, byte for byte (a no-op when apply changed nothing)."""
        if self._old_hash is None:
            return
        if self.mysql is not None:
            self.mysql.restore(self._old_hash)
            self._old_hash = None
            return
        where, params = self._where()
        query = sql.SQL("UPDATE {table} SET {col} = %s WHERE ").format(table=self.table, col=self.column) + where \
            + sql.SQL(" RETURNING 1")
        self._run("restoring the old hash", query, [self._old_hash.reveal() or None, *params])
        self._old_hash = None

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """The row's hash must no longer verify the leaked password (the check the app makes)."""
        rejected = not self._matches(leaked)
        where = f"{self.table_name}.{self.column_name} where {self.account}"
        if self.server_side:
            detail = (f"crypt(leaked, hash) no longer matches {where}" if rejected
                      else f"the leaked password still matches {self.table_name}")
        else:
            library = "argon2-cffi" if self.hash_spec.scheme == "argon2id" else "bcrypt"
            detail = (f"the {self.hash_spec.scheme} hash in {where} no longer verifies the leaked password "
                      f"(hashed and checked client-side with {library})" if rejected
                      else f"the leaked password still verifies against {self.table_name}")
        return LeakProof(leaked_rejected=rejected, detail=detail)
