"""A throwaway MariaDB server on 127.0.0.1 (Debian's mariadb-server: mariadb-install-db + mariadbd).

Function-scoped: every test gets an empty server (install-db ~1 s), so
accounts and passwords never carry over. The TCP admin account is created
over the data directory's socket; the server is stopped by its PID and its
directory removed (demo.services.MariaDBServer, shared with the demo).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo.services import MariaDBServer, mariadb_binaries


@pytest.fixture
def mariadb() -> Iterator[MariaDBServer]:
    """MariaDB on a free 127.0.0.1 port, with ``admin_dsn`` (all privileges) and ``create_user``."""
    binaries = mariadb_binaries()
    if binaries is None:
        pytest.skip("MariaDB server binaries not installed (Debian package mariadb-server: mariadbd)")
    with MariaDBServer(*binaries) as server:
        yield server
