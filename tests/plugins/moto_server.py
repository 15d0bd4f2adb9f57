"""moto's server for AWS Secrets Manager, on 127.0.0.1.

One server per test session (it is ready in ~0.4 s but still worth sharing);
every test gets it reset through ``POST /moto-api/reset`` so no secret leaks
from one test into the next. The server is stopped by the PID we started.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from demo.services import free_port, moto_server_binary, stop_process

REGION = "us-east-1"


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its endpoint and a boto3 client factory."""

    endpoint_url: str
    region: str = REGION

    def client(self, service: str = "secretsmanager") -> Any:
        """A boto3 client bound to this server (credentials come from the test env)."""
        import boto3

        return boto3.session.Session().client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def reset(self) -> None:
        """Forget every resource (moto's own reset endpoint)."""
        req = urllib.request.Request(self.endpoint_url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/moto-api/data.json", timeout=1) as resp:
                resp.read()
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise RuntimeError("moto_server did not become ready in time")


@pytest.fixture(scope="session")
def moto_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Start moto_server once per session on a free 127.0.0.1 port; stop it by PID."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    for _attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [moto_server_binary(), "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(url, proc)
        except RuntimeError:
            stop_process(proc)
            continue  # port taken between our probe and its bind: try another
        break
    else:
        raise RuntimeError(f"moto_server would not start; see {log}")
    try:
        yield MotoServer(url)
    finally:
        stop_process(proc)


@pytest.fixture
def moto(moto_session: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A freshly reset moto server, with fake AWS credentials in the environment."""
    # Fake, non-token-shaped credentials: moto accepts anything.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", moto_session.region)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    moto_session.reset()
    return moto_session
