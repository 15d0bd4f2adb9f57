"""A throwaway Redis server on 127.0.0.1 (Debian's redis-server), with ``requirepass`` and no persistence.

Function-scoped (start ~0.05 s): every test gets a fresh server, since tests
change the default user's password. Stopped by its PID
(demo.services.RedisServer).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo.services import RedisServer, redis_binary


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """Redis on a free 127.0.0.1 port: ``admin_dsn`` (the default user), ``create_user`` for ACL users."""
    binary = redis_binary()
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    with RedisServer(binary) as server:
        yield server
