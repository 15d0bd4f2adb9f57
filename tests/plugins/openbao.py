"""OpenBao dev server (``bao server -dev``) on 127.0.0.1: the Vault API for tests.

Function-scoped: the dev server keeps everything in memory and is ready in
~0.1 s, so each test gets a clean store. The dev server also binds port+1
(its cluster listener), so we pick a port where both are free. Stopped by
the PID we started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT_TOKEN = "root"


@dataclass(frozen=True)
class VaultServer:
    """A running dev server: its address, root token and a ready hvac client."""

    url: str
    token: str
    client: Any
    pid: int

    def new_client(self, token: str | None = None) -> Any:
        """Another hvac client (e.g. with a different token)."""
        import hvac

        return hvac.Client(url=self.url, token=token or self.token)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_pair() -> int:
    """A port P such that P and P+1 are both free on 127.0.0.1 right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65535 and _port_free(port + 1):
            return port
    raise RuntimeError("no free pair of ports on 127.0.0.1")


def _bao_binary() -> str:
    candidate = Path(sys.executable).with_name("bao")
    return str(candidate) if candidate.exists() else "bao"


def _wait_ready(client: Any, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if client.sys.is_initialized() and not client.sys.is_sealed():
                return True
        except Exception:  # noqa: BLE001 - any connection error means "not yet"
            pass
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[VaultServer]:
    """``bao server -dev`` with root token ``root``; KV v2 mounted at ``secret/``."""
    import hvac

    log = tmp_path / "bao.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(tmp_path)  # the dev server writes ~/.vault-token
    for _attempt in range(3):
        port = free_port_pair()
        url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [_bao_binary(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
                 f"-dev-listen-address=127.0.0.1:{port}"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            )
        client = hvac.Client(url=url, token=ROOT_TOKEN)
        if _wait_ready(client, proc):
            break
        _stop(proc)
    else:
        raise RuntimeError("bao server -dev did not start; see " + str(log))
    try:
        yield VaultServer(url=url, token=ROOT_TOKEN, client=client, pid=proc.pid)
    finally:
        _stop(proc)
