"""The Aurora app (``tests/apps/aurora_app.py``) as a real process on 127.0.0.1, and its database.

``aurora_db`` prepares a PostgreSQL database the way the app's own migration
would: pgcrypto, an ``app_users`` table holding the admin's bcrypt hash, and
an app role that may only read it. ``start_aurora_app`` starts the app with
the environment given (the store's address and token, the app's DSN, an
optional JWKS file) and stops it by PID when the test ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.services import stop_process

APP = Path(__file__).resolve().parents[1] / "apps" / "aurora_app.py"


@dataclass
class AuroraApp:
    """A running app: its base URL and PID."""

    url: str
    pid: int
    proc: subprocess.Popen[bytes]


@dataclass(frozen=True)
class AuroraDb:
    """The app's database: the admin's DSN (for the sql target) and the app role's DSN."""

    admin_dsn: str
    app_dsn: str


def set_admin_password(pg: object, password: str, *, cost: int = 6) -> None:
    """What the app's setup does: store the admin's bcrypt hash (pgcrypto)."""
    with pg.connect() as conn:  # type: ignore[attr-defined]
        conn.execute("INSERT INTO app_users (username, password_hash) VALUES ('admin', crypt(%s, gen_salt('bf', %s))) "
                     "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash", (password, cost))


@pytest.fixture
def aurora_db(pg) -> AuroraDb:
    """pgcrypto + ``app_users`` in the ``postgres`` database; role ``aurora_web`` may SELECT from it."""
    import secrets

    app_password = secrets.token_urlsafe(18)
    with pg.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        conn.execute("CREATE TABLE app_users (username text PRIMARY KEY, password_hash text NOT NULL)")
    dsn = pg.create_role("aurora_web", app_password)
    with pg.connect() as conn:
        conn.execute("GRANT SELECT ON app_users TO aurora_web")
    return AuroraDb(admin_dsn=pg.admin_dsn, app_dsn=dsn)


@pytest.fixture
def start_aurora_app(tmp_path: Path) -> Iterator[Callable[..., AuroraApp]]:
    """``start(env)`` → a running app; every app started is stopped (by its PID) at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> AuroraApp:
        port_file = tmp_path / f"aurora-port-{len(started)}"
        log_path = tmp_path / f"aurora-{len(started)}.log"
        log = log_path.open("wb")
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
        proc = subprocess.Popen([sys.executable, str(APP), str(port_file)], env=full, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        started.append(proc)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"aurora app did not start: {log_path.read_text()}")
            time.sleep(0.05)
        return AuroraApp(url=f"http://127.0.0.1:{port_file.read_text()}", pid=proc.pid, proc=proc)

    yield start
    for proc in started:
        stop_process(proc)
