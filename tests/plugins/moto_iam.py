"""moto's server with AWS authentication switched on, for IAM access-key rotation.

The shared ``moto`` fixture accepts any credentials, so it cannot show that
a deleted key is refused. This one starts its own moto_server with
``INITIAL_NO_AUTH_ACTION_COUNT``: the first few requests bootstrap an
``admin`` IAM user with an allow-all inline policy and its access key, and
from then on every request must be signed with a key IAM knows (STS answers
``InvalidClientTokenId`` for a deleted one). Function-scoped (~0.5 s), on a
free 127.0.0.1 port, stopped by its PID.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.services import free_port, stop_process

REGION = "us-east-1"
_BOOTSTRAP_CALLS = 3  # create-user, put-user-policy, create-access-key (unauthenticated)
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class AuthMoto:
    """A moto server that checks signatures; ``admin`` is an IAM key pair allowed everything."""

    endpoint_url: str
    admin: tuple[str, str]
    region: str = REGION

    def client(self, service: str, pair: tuple[str, str] | None = None) -> Any:
        """A boto3 client signed with ``pair`` (default: the admin's key)."""
        import boto3

        key_id, secret = pair or self.admin
        return boto3.session.Session().client(service, region_name=self.region, endpoint_url=self.endpoint_url,
                                              aws_access_key_id=key_id, aws_secret_access_key=secret)

    def create_user_with_key(self, user: str) -> tuple[str, str]:
        """An IAM user with one access key (its pair)."""
        iam = self.client("iam")
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


@pytest.fixture
def moto_iam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthMoto]:
    """An authenticating moto server; the admin key is also put in the environment (boto3's default chain)."""
    import boto3

    from tests.plugins.moto_server import _moto_server_binary, _wait_ready  # after pytest registered it

    log = tmp_path / "moto-auth.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_BOOTSTRAP_CALLS)}
    for _attempt in range(3):
        url = f"http://127.0.0.1:{free_port()}"
        with log.open("ab") as out:
            proc = subprocess.Popen([_moto_server_binary(), "-H", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_ready(url, proc)
            break
        except RuntimeError:
            stop_process(proc)
    else:
        raise RuntimeError(f"moto_server would not start; see {log}")
    try:
        boot = boto3.session.Session().client("iam", region_name=REGION, endpoint_url=url,
                                              aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        boot.create_user(UserName="admin")
        boot.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
        key = boot.create_access_key(UserName="admin")["AccessKey"]
        admin = (str(key["AccessKeyId"]), str(key["SecretAccessKey"]))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin[1])
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(var, raising=False)
        yield AuthMoto(endpoint_url=url, admin=admin)
    finally:
        stop_process(proc)
