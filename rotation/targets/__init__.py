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
from typing import Any

from rotation.targets.base import Target


@dataclass(frozen=True)
class TargetContext:
    """What a target factory may need besides its own keys.

    ``backend`` is the :class:`rotation.config.BackendConfig` (e.g. the Vault
    URL and token for a database-engine target); ``env`` the environment
    the config was loaded with (for ``*_env`` keys).
    """

    secret_name: str
    backend: Any
    env: Mapping[str, str] = field(default_factory=dict)


TargetFactory = Callable[[Mapping[str, Any], TargetContext], Target]


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
}
