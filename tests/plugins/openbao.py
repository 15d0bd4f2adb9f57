"""OpenBao dev server (``bao server -dev``) on 127.0.0.1: the Vault API for tests.

Function-scoped: the dev server keeps everything in memory and is ready in
~0.1 s, so each test gets a clean store. Started and stopped (by PID) by
demo.services.OpenBaoDev, the same launcher the demo uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.services import OpenBaoDev

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


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[VaultServer]:
    """``bao server -dev`` with root token ``root``; KV v2 mounted at ``secret/``."""
    with OpenBaoDev(tmp_path / "openbao", token=ROOT_TOKEN) as dev:
        assert dev.proc is not None
        yield VaultServer(url=dev.url, token=dev.token, client=dev.client(), pid=dev.proc.pid)
