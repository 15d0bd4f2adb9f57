"""moto's server with AWS authentication switched on, for IAM access-key rotation.

The shared ``moto`` fixture accepts any credentials, so it cannot show that
a deleted key is refused. This one starts its own server through the demo's
launcher (:class:`demo.services.MotoIAM`, ``INITIAL_NO_AUTH_ACTION_COUNT``):
the first few requests bootstrap an ``admin`` IAM user with an allow-all
inline policy and its access key, and from then on every request must be
signed with a key IAM knows (STS answers ``InvalidClientTokenId`` for a
deleted one). Function-scoped (~0.5 s), on a free 127.0.0.1 port, stopped by
its PID.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.services import IAM_REGION, MotoIAM

REGION = IAM_REGION


@pytest.fixture
def moto_iam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoIAM]:
    """An authenticating moto server; the admin key is also put in the environment (boto3's default chain)."""
    server = MotoIAM(tmp_path / "moto-iam").start()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.admin[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.admin[1])
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(var, raising=False)
        yield server
    finally:
        server.stop()
