"""An AWS IAM access key pair as a rotation target: new key created, proven, the leaked one deleted.

The stored value is the pair as one JSON object, ``{"aws_access_key_id": …,
"aws_secret_access_key": …}`` (``AccessKeyId``/``SecretAccessKey`` also work;
other fields are kept). IAM chooses key material, so this target *issues*
the new value (like ``vault_db``): :meth:`AwsIamTarget.issue` creates a second
access key for the key's user and returns the pair in the stored shape; the
protocol stages, tests (``sts get-caller-identity`` with the new key must name
the same user) and promotes it. Compromised mode then deactivates and deletes
the leaked key and proves it:

- ``list_access_keys`` must no longer list it (IAM's word: revoked), and
- STS must refuse it (``InvalidClientTokenId``); AWS can take seconds to
  propagate a deletion, so STS is asked again for up to ``proof_wait`` seconds.

If STS refused, the state is ``rotated-proven-dead``; if IAM no longer lists
the key but STS kept accepting it, it is ``revoked`` and the proof says so.
A rollback deletes the key this run created. Scheduled mode leaves the old
key active for the grace window (IAM allows two keys per user: delete it
before the next rotation). The admin credentials are boto3's default chain
(environment, profile, instance role) and need iam:CreateAccessKey,
UpdateAccessKey, DeleteAccessKey, ListAccessKeys and GetAccessKeyLastUsed.
Errors carry the user name and AWS's error code, never key material.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from rotation.errors import ConfigError, TargetError
from rotation.kinds import AWS_KEY_ID_FIELDS
from rotation.targets import TargetContext
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret

_KEYS = {"type", "user", "region", "endpoint_url", "proof_wait"}
_SECRET_FIELDS = {"aws_access_key_id": "aws_secret_access_key", "AccessKeyId": "SecretAccessKey",
                  "access_key_id": "secret_access_key", "AWS_ACCESS_KEY_ID": "AWS_SECRET_ACCESS_KEY"}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__


def parse_pair(value: Secret) -> tuple[dict[str, Any], str, str]:
    """The stored JSON document and the names of its key-id and secret fields; TargetError otherwise."""
    try:
        doc = json.loads(value.reveal())
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        for id_field in AWS_KEY_ID_FIELDS:
            secret_field = _SECRET_FIELDS[id_field]
            if isinstance(doc.get(id_field), str) and isinstance(doc.get(secret_field), str):
                return doc, id_field, secret_field
    raise TargetError("aws_iam: the stored value must be the key pair as JSON: "
                      '{"aws_access_key_id": …, "aws_secret_access_key": …}')


class AwsIamTarget(Target):
    """The IAM user behind the stored access key pair."""

    kind = "aws_iam"

    def __init__(self, *, user: str | None = None, region: str = "us-east-1", endpoint_url: str | None = None,
                 proof_wait: int = 20) -> None:
        self.user = user
        self.region = region
        self.endpoint_url = endpoint_url
        self.proof_wait = proof_wait
        self._created: str | None = None  # the key id this run created (deleted on rollback)
        self._user: str | None = user

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> AwsIamTarget:
        """``{type: aws_iam[, user: NAME][, region][, endpoint_url][, proof_wait: 20]}``."""
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        for key in ("user", "region", "endpoint_url"):
            if key in spec and (not isinstance(spec[key], str) or not spec[key].strip()):
                raise ConfigError(f"'{key}' must be a non-empty string")
        wait = spec.get("proof_wait", 20)
        if isinstance(wait, bool) or not isinstance(wait, int) or not 0 <= wait <= 300:
            raise ConfigError("'proof_wait' must be an integer number of seconds (0-300)")
        backend = ctx.backend
        region = (spec.get("region") or backend.region or ctx.env.get("AWS_REGION")
                  or ctx.env.get("AWS_DEFAULT_REGION") or "us-east-1")
        endpoint = spec.get("endpoint_url") or backend.endpoint_url
        return cls(user=spec.get("user"), region=region, endpoint_url=endpoint, proof_wait=wait)

    # -- clients ---------------------------------------------------------------------------

    def _client(self, service: str, pair: tuple[str, str] | None = None) -> Any:
        import boto3

        keys = {"aws_access_key_id": pair[0], "aws_secret_access_key": pair[1]} if pair else {}
        return boto3.session.Session().client(service, region_name=self.region, endpoint_url=self.endpoint_url,
                                              **keys)

    def _iam(self, what: str, method: str, **kwargs: Any) -> Any:
        import botocore.exceptions

        try:
            return getattr(self._client("iam"), method)(**kwargs)
        except botocore.exceptions.NoCredentialsError:
            raise TargetError("aws_iam: no admin credentials (boto3's default chain found none)") from None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise TargetError(f"aws_iam: {what} failed: {_code(exc)}") from None

    def _identity(self, pair: tuple[str, str]) -> str | None:
        """The ARN STS gives this key, or None if STS refuses it."""
        import botocore.exceptions

        try:
            return str(self._client("sts", pair).get_caller_identity()["Arn"])
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in ("InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied",
                              "UnrecognizedClientException"):
                return None
            raise TargetError(f"aws_iam: sts get-caller-identity failed: {_code(exc)}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise TargetError(f"aws_iam: sts get-caller-identity failed: {type(exc).__name__}") from None

    def _owner(self, key_id: str) -> str:
        if self._user is None:
            found = self._iam("get-access-key-last-used", "get_access_key_last_used", AccessKeyId=key_id)
            user = found.get("UserName")
            if not isinstance(user, str) or not user:
                raise TargetError("aws_iam: cannot tell which IAM user owns the stored key: set target.user")
            self._user = user
        return self._user

    @staticmethod
    def _pair(value: Secret) -> tuple[str, str]:
        doc, id_field, secret_field = parse_pair(value)
        return str(doc[id_field]), str(doc[secret_field])

    # -- Target ----------------------------------------------------------------------------

    def issue(self, old: Secret) -> Secret:
        """Create a new access key for the stored key's user; the stored document with the new pair in it."""
        doc, id_field, secret_field = parse_pair(old)
        user = self._owner(str(doc[id_field]))
        self._created = None
        created = self._iam(f"create-access-key for {user}", "create_access_key", UserName=user)["AccessKey"]
        self._created = str(created["AccessKeyId"])
        return Secret(json.dumps({**doc, id_field: created["AccessKeyId"], secret_field: created["SecretAccessKey"]}))

    def apply(self, old: Secret, new: Secret) -> None:
        """The key exists once issued: check IAM lists it for the user."""
        user = self._owner(self._pair(old)[0])
        listed = self._iam(f"list-access-keys for {user}", "list_access_keys", UserName=user)["AccessKeyMetadata"]
        if self._pair(new)[0] not in {k["AccessKeyId"] for k in listed}:
            raise TargetError(f"aws_iam: the new key is not listed for {user}")

    def test(self, value: Secret) -> None:
        """``sts get-caller-identity`` with the new key names the same user (retried while IAM propagates)."""
        user = self._owner(self._pair(value)[0])
        deadline = time.monotonic() + self.proof_wait
        while True:
            arn = self._identity(self._pair(value))
            if arn is not None or time.monotonic() >= deadline:
                break
            time.sleep(1)
        if arn is None:
            raise TargetError(f"aws_iam: STS refused the new key of {user}")
        if not arn.endswith(f"/{user}"):
            raise TargetError(f"aws_iam: the new key authenticates as another principal than {user}")

    def revert(self, old: Secret, new: Secret) -> None:
        """Delete the key this run created (the leaked key was not touched before promotion)."""
        if self._created is None or self._user is None:
            return
        self._iam(f"delete-access-key for {self._user}", "delete_access_key", UserName=self._user,
                  AccessKeyId=self._created)
        self._created = None

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """Deactivate, then delete the leaked key; IAM must no longer list it and STS must refuse it."""
        key_id, secret = self._pair(leaked)
        user = self._owner(key_id)
        listed = self._iam(f"list-access-keys for {user}", "list_access_keys", UserName=user)["AccessKeyMetadata"]
        if key_id in {k["AccessKeyId"] for k in listed}:
            self._iam(f"update-access-key (Inactive) for {user}", "update_access_key", UserName=user,
                      AccessKeyId=key_id, Status="Inactive")
            self._iam(f"delete-access-key for {user}", "delete_access_key", UserName=user, AccessKeyId=key_id)
        after = self._iam(f"list-access-keys for {user}", "list_access_keys", UserName=user)["AccessKeyMetadata"]
        if key_id in {k["AccessKeyId"] for k in after}:
            return LeakProof(leaked_rejected=False, detail=f"IAM still lists the leaked key of {user}")
        deadline = time.monotonic() + self.proof_wait
        while True:
            accepted = self._identity((key_id, secret)) is not None
            if not accepted or time.monotonic() >= deadline:
                break
            time.sleep(1)
        if not accepted:
            return LeakProof(leaked_rejected=True, detail=f"leaked key of {user} deactivated and deleted: IAM no "
                                                          "longer lists it and STS refused it (InvalidClientTokenId)")
        return LeakProof(leaked_rejected=True, state="revoked",
                         detail=f"leaked key of {user} deactivated and deleted: IAM no longer lists it, but STS "
                                f"still accepted it after {self.proof_wait}s (propagation delay, or an endpoint "
                                "that does not check keys); check again with sts get-caller-identity")
