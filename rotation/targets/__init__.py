"""Systems that use a secret (a database role, a hook) behind :class:`~rotation.targets.base.Target`.

``TARGETS`` maps a config ``target.type`` to a factory ``(spec, ctx) -> Target``.
Factories validate their keys (ConfigError naming the key) and must not
connect to anything: they run when the config is loaded. Implementations
are imported lazily so a config without a database never imports psycopg, PyMySQL or redis-py.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from rotation.targets.base import Target

if TYPE_CHECKING:
    from sanitize.secret import Secret


class StoreSettings(Protocol):
    """What a target may reuse from the store's settings (:class:`rotation.config.BackendConfig` is one)."""

    @property
    def type(self) -> str:
        """``vault`` or ``aws``."""

    @property
    def url(self) -> str | None:
        """The Vault address (Vault only)."""

    @property
    def token(self) -> Secret | None:
        """The Vault token (Vault only)."""

    @property
    def region(self) -> str | None:
        """The AWS region (AWS only)."""

    @property
    def endpoint_url(self) -> str | None:
        """The AWS endpoint (AWS only; a local moto server in tests)."""


@dataclass(frozen=True)
class TargetContext:
    """What a target factory may need besides its own keys.

    ``backend`` is the store's settings (e.g. the Vault URL and token for a
    database-engine target); ``env`` the environment the config was loaded
    with (for ``*_env`` keys).
    """

    secret_name: str
    backend: StoreSettings
    env: Mapping[str, str] = field(default_factory=dict)


TargetFactory = Callable[[Mapping[str, Any], TargetContext], Target]
ADMIN_DSN_KEYS = frozenset({"type", "admin_dsn_env", "connect_timeout"})
T = TypeVar("T", bound=Target)


def admin_dsn_target(cls: Callable[..., T], spec: Mapping[str, Any], ctx: TargetContext) -> T:
    """``{type: T, admin_dsn_env: NAME[, connect_timeout: N]}``, the shape every database target shares:
    the admin DSN is read from the environment now, and ``cls(admin, connect_timeout=N)`` built from it."""
    from rotation.errors import ConfigError, TargetError
    from sanitize.secret import Secret

    unknown = sorted(set(spec) - ADMIN_DSN_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(ADMIN_DSN_KEYS))})")
    env_name = spec.get("admin_dsn_env")
    if not isinstance(env_name, str) or not env_name:
        raise ConfigError("missing required key 'admin_dsn_env'")
    admin = ctx.env.get(env_name)
    if not admin:
        raise ConfigError(f"environment variable {env_name} (admin_dsn_env) is not set")
    timeout = spec.get("connect_timeout", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 300:
        raise ConfigError("'connect_timeout' must be an integer number of seconds (1-300)")
    try:
        return cls(Secret(admin), connect_timeout=timeout)
    except TargetError as exc:  # the DSN itself does not parse: name the variable, never the value
        raise ConfigError(f"{env_name} (admin_dsn_env): {exc}") from None


def lazy(module: str, cls: str) -> TargetFactory:
    """A factory that imports ``module`` on first use and calls ``cls.from_config(spec, ctx)``."""

    def factory(spec: Mapping[str, Any], ctx: TargetContext) -> Target:
        target_cls = getattr(importlib.import_module(module), cls)
        result: Target = target_cls.from_config(spec, ctx)
        return result

    return factory


TARGETS: dict[str, TargetFactory] = {
    "postgres": lazy("rotation.targets.postgres", "PostgresTarget"),
    "command": lazy("rotation.targets.command", "CommandTarget"),
    "vault_db": lazy("rotation.targets.vault_db", "VaultDbTarget"),
    "mysql": lazy("rotation.targets.mysql", "MysqlTarget"),
    "redis": lazy("rotation.targets.redis", "RedisTarget"),
    "aws_iam": lazy("rotation.targets.aws_iam", "AwsIamTarget"),
    "sql": lazy("rotation.targets.sql", "SqlHashTarget"),
    "jwks": lazy("rotation.targets.jwks", "JwksTarget"),
}
