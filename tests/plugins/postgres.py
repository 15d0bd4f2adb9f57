"""A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's binaries, initdb + pg_ctl).

Function-scoped (initdb ~0.8 s, start ~0.1 s) because tests stop the server
to prove rollback. Runs as the ``postgres`` user in a temp dir it can
traverse; TCP logins need a password (scram-sha-256), so a rotated password
is really checked. Stopped with ``pg_ctl stop`` on the data dir we created.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

ADMIN_USER = "postgres"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + argv, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


@dataclass
class PgCluster:
    """A running cluster: where it listens, its admin login, and start/stop for failure tests."""

    bindir: Path
    datadir: Path
    host: str
    port: int
    admin_password: str

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN over TCP (the rotation target's admin connection)."""
        return self.dsn(ADMIN_USER, self.admin_password)

    def dsn(self, user: str, password: str, dbname: str = "postgres") -> str:
        """A URL DSN for ``user`` with ``password`` percent-encoded."""
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{dbname}"

    def connect(self, dsn: str | None = None):  # type: ignore[no-untyped-def]
        """A psycopg connection (autocommit), by default as the admin."""
        import psycopg

        return psycopg.connect(dsn or self.admin_dsn, autocommit=True, connect_timeout=5)

    def create_role(self, name: str, password: str) -> str:
        """Create a LOGIN role and return its DSN."""
        from psycopg import sql

        with self.connect() as conn:
            stmt = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password))
            conn.execute(stmt)
        return self.dsn(name, password)

    def start(self) -> None:
        """Start (or restart) the server."""
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.datadir}"
        _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", opts, "-w", "-t", "30",
                      "-l", str(self.datadir / "server.log"), "start"])

    def stop(self) -> None:
        """Stop the server (fast shutdown); no-op if it is not running."""
        if (self.datadir / "postmaster.pid").exists():
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"])


@pytest.fixture
def pg() -> Iterator[PgCluster]:
    """initdb + pg_ctl start on a free 127.0.0.1 port; superuser ``postgres`` with a random password."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/initdb)")
    base = Path(tempfile.mkdtemp(prefix="gs-pg-"))
    base.chmod(0o755)
    datadir = base / "data"
    password = secrets.token_urlsafe(18)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    pwfile.chmod(0o600)
    cluster = PgCluster(bindir=bindir, datadir=datadir, host="127.0.0.1", port=_free_port(), admin_password=password)
    try:
        _as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-U", ADMIN_USER, f"--pwfile={pwfile}",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "--locale=C.UTF-8", "-E", "UTF8"])
        pwfile.unlink()
        (datadir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        for attempt in range(3):
            try:
                cluster.start()
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
                cluster.port = _free_port()
                time.sleep(0.2)
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
