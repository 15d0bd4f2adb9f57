"""The ``aws_iam`` target against moto's server with authentication on: the leaked key is refused by STS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from rotation.backends.base import SecretRef
from rotation.backends.vault import VaultBackend
from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import TargetError
from rotation.generate import GenerateSpec
from rotation.protocol import rotate_secret
from rotation.targets.aws_iam import AwsIamTarget
from sanitize.secret import Secret

pytestmark = pytest.mark.services


def pair_json(pair: tuple[str, str]) -> str:
    return json.dumps({"aws_access_key_id": pair[0], "aws_secret_access_key": pair[1], "region": "us-east-1"})


def sts_arn(moto_iam: Any, pair: tuple[str, str]) -> str | None:
    try:
        return str(moto_iam.client("sts", pair).get_caller_identity()["Arn"])
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidClientTokenId"
        return None


def listed(moto_iam: Any, user: str) -> list[str]:
    return [k["AccessKeyId"] for k in moto_iam.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]]


def test_compromised_rotation_deletes_the_leaked_key_and_sts_refuses_it(vault, moto_iam, tmp_path: Path) -> None:
    leaked = moto_iam.create_user_with_key("deploy-bot")
    assert sts_arn(moto_iam, leaked) is not None  # the leaked key works before
    vault.client.secrets.kv.v2.create_or_update_secret(path="ci/aws", secret={"AWS_KEYS": pair_json(leaked)})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": str(tmp_path / "audit.log"), "lock_dir": str(tmp_path / "locks"),
           "secrets": [{"name": "AWS_KEYS", "path": "ci/aws", "key": "AWS_KEYS",
                        "target": {"type": "aws_iam", "endpoint_url": moto_iam.endpoint_url, "proof_wait": 0}}]}
    lines: list[str] = []
    summary = rotate(parse_config(doc, env={"VAULT_TOKEN": vault.token}), log=lines.append)

    stored = json.loads(vault.client.secrets.kv.v2.read_secret_version(
        path="ci/aws", raise_on_deleted_version=True)["data"]["data"]["AWS_KEYS"])
    new = (stored["aws_access_key_id"], stored["aws_secret_access_key"])
    assert new[0] != leaked[0] and stored["region"] == "us-east-1"  # same shape, other fields kept
    assert sts_arn(moto_iam, new) == "arn:aws:iam::123456789012:user/deploy-bot"
    assert sts_arn(moto_iam, leaked) is None  # refused: the leaked key is dead
    assert listed(moto_iam, "deploy-bot") == [new[0]]
    out = summary.outcomes[0]
    assert out.status == "rotated" and out.state == "rotated-proven-dead" and out.kind == "aws-access-key"
    assert "IAM no longer lists it and STS refused it" in out.proof
    text = "\n".join(lines) + (tmp_path / "audit.log").read_text() + str(summary)
    for value in (*leaked, *new, *moto_iam.admin):
        assert value not in text


def test_a_failed_test_deletes_the_new_key_and_keeps_the_leaked_one(vault, moto_iam) -> None:
    leaked = moto_iam.create_user_with_key("deploy-bot")
    vault.client.secrets.kv.v2.create_or_update_secret(path="ci/aws", secret={"AWS_KEYS": pair_json(leaked)})

    class Failing(AwsIamTarget):
        def test(self, value: Secret) -> None:
            raise TargetError("aws_iam: simulated test failure")

    backend = VaultBackend(vault.url, Secret(vault.token))
    ref = SecretRef(name="AWS_KEYS", path="ci/aws", key="AWS_KEYS")
    with pytest.raises(TargetError, match="target reverted"):
        rotate_secret(backend, ref, GenerateSpec(), Failing(endpoint_url=moto_iam.endpoint_url, proof_wait=0))
    assert listed(moto_iam, "deploy-bot") == [leaked[0]]  # the key this run created is gone
    assert backend.read_current(ref).value.reveal() == pair_json(leaked)


def test_key_pair_in_secrets_manager_on_the_same_account(moto_iam, tmp_path: Path) -> None:
    """Store and IAM both behind authentication: the admin key signs the store calls too."""
    leaked = moto_iam.create_user_with_key("etl")
    moto_iam.client("secretsmanager").create_secret(Name="etl/aws", SecretString=pair_json(leaked))
    doc = {"backend": {"type": "aws", "region": moto_iam.region, "endpoint_url": moto_iam.endpoint_url},
           "audit_log": str(tmp_path / "audit.log"), "lock_dir": str(tmp_path / "locks"),
           "secrets": [{"name": "ETL_AWS", "secret_id": "etl/aws", "target": {"type": "aws_iam", "user": "etl"}}]}
    summary = rotate(parse_config(doc, env={}))
    assert summary.states == {"rotated-proven-dead": ["ETL_AWS"]}
    current = json.loads(moto_iam.client("secretsmanager").get_secret_value(
        SecretId="etl/aws", VersionStage="AWSCURRENT")["SecretString"])
    assert sts_arn(moto_iam, (current["aws_access_key_id"], current["aws_secret_access_key"])) is not None
    assert sts_arn(moto_iam, leaked) is None


def test_a_bare_key_id_is_not_rotatable_and_says_how_to_store_it(vault, moto_iam, tmp_path: Path) -> None:
    leaked = moto_iam.create_user_with_key("deploy-bot")
    vault.client.secrets.kv.v2.create_or_update_secret(path="ci/aws", secret={"AWS_SECRET_ACCESS_KEY": leaked[1]})
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "VAULT_TOKEN"},
           "audit_log": str(tmp_path / "audit.log"), "lock_dir": str(tmp_path / "locks"),
           "secrets": [{"name": "AWS_SECRET_ACCESS_KEY", "path": "ci/aws"}]}
    summary = rotate(parse_config(doc, env={"VAULT_TOKEN": vault.token}))
    out = summary.outcomes[0]
    assert out.status == "not rotated" and out.state == "still-live" and summary.exit_code == 1
    assert "target: {type: aws_iam}" in out.action and "one JSON value" in out.action
    assert sts_arn(moto_iam, leaked) is not None  # untouched, and still live: the summary says so
