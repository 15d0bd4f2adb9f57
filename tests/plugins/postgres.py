"""A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's binaries, initdb + pg_ctl).

Function-scoped (initdb ~0.8 s, start ~0.1 s) because tests stop the server
to prove rollback. TCP logins need a password (scram-sha-256), so a rotated
password is really checked. Started and destroyed by
demo.services.PostgresCluster, the same launcher the demo uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo.services import PostgresCluster, postgres_bindir

PgCluster = PostgresCluster


@pytest.fixture
def pg() -> Iterator[PostgresCluster]:
    """initdb + pg_ctl start on a free 127.0.0.1 port; superuser ``postgres`` with a random password."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/initdb)")
    with PostgresCluster(bindir) as cluster:
        yield cluster
