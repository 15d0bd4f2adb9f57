"""AWS Secrets Manager behind :class:`SecretBackend`, with the staging-label protocol.

A rotation is one new *version* of the secret whose ``VersionId`` is the
rotation token (``ClientRequestToken``): staged under ``AWSPENDING``, then
``AWSCURRENT`` is moved onto it and Secrets Manager moves ``AWSPREVIOUS`` to
the version it left. Reads always name ``VersionStage="AWSCURRENT"``: moto
answers an unqualified ``get_secret_value`` with a stale version.

A :class:`SecretRef` with a ``key`` addresses one key of a JSON
``SecretString`` (``{"JWT_SECRET": ..., "ADMIN_PASSWORD": ...}``); the other
keys are carried over unchanged into the new version.

The cross-host lease is ``AWSPENDING`` itself, as AWS's own rotation uses
it (``RotateSecret`` refuses to start while AWSPENDING sits on a version other
than AWSCURRENT): a run stages its version under a label of its own, then
moves AWSPENDING onto it naming the version it expects the label on
(``RemoveFromVersionId``), which Secrets Manager refuses if another run moved
it first. AWSPENDING on another, non-current version younger than the lease
time means a rotation (ours or a Lambda's) is under way: the run skips the
secret. An older one is a crashed rotation, taken over. A Lambda rotation and
a CLI run on any host therefore never interleave.

Every botocore error is turned into one-line :class:`BackendError` (or
:class:`ConflictError`) here, so the protocol never sees a vendor exception.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from rotation.backends.base import CurrentValue, Lease, SecretBackend, SecretRef, owner_gone
from rotation.errors import (
    BackendError,
    BackendUnavailable,
    ConflictError,
    LeaseHeld,
    LeaseLost,
    PromotedButUnfinished,
    SecretNotFound,
)
from sanitize.secret import REDACTED, Secret

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"
#: The label naming the run (``git-sanitize-run.<host>.<pid>.<token8>``) on the version it staged, while it is
#: pending: so a run on the same host can tell a crashed rotation's AWSPENDING from a live one.
RUN_PREFIX = "git-sanitize-run."

T = TypeVar("T")
# Error codes that mean "these credentials may not do this", not "this secret is wrong".
_REFUSED = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class AwsBackend(SecretBackend):
    """Secrets Manager in ``region`` (``endpoint_url`` for moto or a VPC endpoint).

    ``client`` lets a caller (the Lambda handler, tests) pass a ready boto3
    client; otherwise one is made with few retries so an unreachable endpoint
    fails in seconds, not minutes.
    """

    kind: ClassVar[str] = "aws"

    def __init__(self, region: str, endpoint_url: str | None = None, client: Any = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._client = client if client is not None else self._make_client(region, endpoint_url)
        self._staged: set[str] = set()  # the versions this instance moved AWSPENDING onto
        self._lease_ttl = timedelta(minutes=15)

    @staticmethod
    def _make_client(region: str, endpoint_url: str | None) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        try:
            # A session of our own: boto3's module-wide default one caches the first credentials it finds.
            session = boto3.session.Session()
            return session.client("secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config)
        except (BotoCoreError, ValueError) as exc:  # InvalidRegionError, bad endpoint URL
            raise BackendUnavailable(
                f"AWS Secrets Manager: cannot use region {region!r}: {_one_line(str(exc))}") from exc

    # -- error boundary ---------------------------------------------------------------------------------------

    @contextmanager
    def _calling(self, operation: str, secret_id: str, hide: tuple[str, ...] = ()) -> Iterator[None]:
        """Translate botocore errors raised inside the block into one clear line.

        ``hide``: values sent in this call, scrubbed from any message that
        might echo them (botocore's parameter validation does).
        """
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            ParamValidationError,
        )

        def scrub(text: str) -> str:
            text = _one_line(text)
            for value in hide:
                if value:
                    text = text.replace(value, REDACTED)
            return text

        where = self.endpoint_url or f"region {self.region}"
        try:
            yield
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = err.get("Code", "Error")
            message = scrub(err.get("Message", "") or str(exc))
            if code == "ResourceNotFoundException":  # a config naming a secret the store does not hold: exit 2
                raise SecretNotFound(f"AWS Secrets Manager: secret {secret_id!r} not found ({where})") from exc
            if code in _REFUSED:
                raise BackendUnavailable(
                    f"AWS Secrets Manager: access denied for {operation} on {secret_id!r} ({where}): {message}"
                ) from exc
            raise BackendError(f"AWS Secrets Manager: {operation} on {secret_id!r} failed: {code}: {message}") from exc
        except EndpointConnectionError as exc:
            raise BackendUnavailable(
                f"AWS Secrets Manager: cannot reach {exc.kwargs.get('endpoint_url', where)} "
                f"(check region {self.region!r} and endpoint_url)"
            ) from exc
        except NoCredentialsError as exc:
            raise BackendUnavailable(
                "AWS Secrets Manager: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or run with an instance/task role)"
            ) from exc
        except NoRegionError as exc:
            raise BackendUnavailable("AWS Secrets Manager: no region configured (set backend.region)") from exc
        except ParamValidationError as exc:  # its message quotes the parameter values
            raise BackendError(
                f"AWS Secrets Manager: {operation} on {secret_id!r}: invalid request parameters"
            ) from exc
        except BotoCoreError as exc:  # timeouts, SSL, …
            raise BackendError(f"AWS Secrets Manager: {operation} on {secret_id!r} failed: {scrub(str(exc))}") from exc

    def _call(
        self, operation: str, secret_id: str, fn: Callable[..., T], *, hide: tuple[str, ...] = (), **kwargs: Any
    ) -> T:
        with self._calling(operation, secret_id, hide):
            return fn(SecretId=secret_id, **kwargs)

    # -- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    def secret_id(ref: SecretRef) -> str:
        """The Secrets Manager id of ``ref``: its ``secret_id``, else ``path`` (config's aws form)."""
        sid = ref.secret_id or ref.path
        if not sid:
            raise BackendError(f"{ref.name}: no secret_id for the AWS backend")
        return sid

    def _extract(self, ref: SecretRef, secret_string: str | None) -> str:
        """The rotated value inside a version's SecretString (one JSON key, or the whole string)."""
        if secret_string is None:
            raise BackendError(f"{ref.name}: secret {self.secret_id(ref)!r} holds binary data, not a string")
        if not ref.key:
            return secret_string
        doc = self._json_object(ref, secret_string)
        value = doc.get(ref.key)
        if not isinstance(value, str):
            raise BackendError(f"{ref.name}: key {ref.key!r} is missing or not a string in {self.secret_id(ref)!r}")
        return value

    def _compose(self, ref: SecretRef, value: Secret) -> str:
        """The SecretString of a new version holding ``value``: one JSON key (the other keys carried over
        from the current version), or the whole string."""
        if not ref.key:
            return value.reveal()
        current = self._get(ref, VersionStage=CURRENT)
        assert current is not None
        doc = self._json_object(ref, current.get("SecretString") or "")
        doc[ref.key] = value.reveal()
        return json.dumps(doc)

    def _json_object(self, ref: SecretRef, secret_string: str) -> dict[str, Any]:
        try:
            doc = json.loads(secret_string)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            # Never echo the string: it is the secret.
            raise BackendError(
                f"{ref.name}: {self.secret_id(ref)!r} is not a JSON object, so key {ref.key!r} cannot be read"
            )
        return doc

    def _get(self, ref: SecretRef, **selector: str) -> dict[str, Any] | None:
        """get_secret_value for one version; None when that version does not exist."""
        from botocore.exceptions import ClientError

        sid = self.secret_id(ref)
        with self._calling("GetSecretValue", sid):
            try:
                return dict(self._client.get_secret_value(SecretId=sid, **selector))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException" and "VersionId" in selector:
                    # The secret may exist but not this version: tell the two apart.
                    self._call("DescribeSecret", sid, self._client.describe_secret)
                    return None
                raise

    def describe(self, ref: SecretRef) -> dict[str, Any]:
        """describe_secret: rotation settings, dates and VersionIdsToStages (no values)."""
        return dict(self._call("DescribeSecret", self.secret_id(ref), self._client.describe_secret))

    def _stages(self, ref: SecretRef) -> dict[str, list[str]]:
        """VersionId → staging labels, from describe_secret."""
        desc = self.describe(ref)
        return {vid: list(stages) for vid, stages in (desc.get("VersionIdsToStages") or {}).items()}

    def _move_label(self, ref: SecretRef, label: str, *, to: str | None = None, away_from: str | None = None) -> None:
        """Attach ``label`` to version ``to`` and/or detach it from ``away_from``."""
        sid = self.secret_id(ref)
        kwargs: dict[str, str] = {"SecretId": sid, "VersionStage": label}
        if to:
            kwargs["MoveToVersionId"] = to
        if away_from:
            kwargs["RemoveFromVersionId"] = away_from
        with self._calling("UpdateSecretVersionStage", sid):
            self._client.update_secret_version_stage(**kwargs)

    # -- SecretBackend ----------------------------------------------------------------------------------------

    def read_current(self, ref: SecretRef) -> CurrentValue:
        """AWSCURRENT's value (or its JSON key), VersionId and creation date."""
        resp = self._get(ref, VersionStage=CURRENT)
        assert resp is not None  # a missing secret raised already
        created = resp.get("CreatedDate")
        return CurrentValue(
            value=Secret(self._extract(ref, resp.get("SecretString"))),
            version=str(resp["VersionId"]),
            updated=created if isinstance(created, datetime) else None,
        )

    def stage_pending(self, ref: SecretRef, value: Secret, token: str) -> None:
        """put_secret_value under AWSPENDING with ``token`` as the VersionId.

        AWS refuses a reused token with another value but moto overwrites it
        silently, so the version is looked up first: same value → no-op,
        another value → ConflictError.
        """
        sid = self.secret_id(ref)
        existing = self._get(ref, VersionId=token)
        if existing is not None:
            if self._extract(ref, existing.get("SecretString")) == value.reveal():
                if PENDING not in (existing.get("VersionStages") or []) and CURRENT not in (
                    existing.get("VersionStages") or []
                ):
                    self._move_label(ref, PENDING, to=token, away_from=self._holder(ref, PENDING))
                return
            raise ConflictError(f"{ref.name}: rotation token {token} already holds another value in {sid!r}")
        body = self._compose(ref, value)
        expected = self._free_pending(ref, self._lease_ttl)  # LeaseHeld before anything is written
        label = f"{RUN_PREFIX}{socket.gethostname()}.{os.getpid()}.{token[:8]}"
        self._call(
            "PutSecretValue",
            sid,
            self._client.put_secret_value,
            hide=(body, value.reveal()),
            ClientRequestToken=token,
            SecretString=body,
            VersionStages=[label],
        )
        try:
            self._claim_pending(ref, token, expected)
        except BaseException:
            self._move_label(ref, label, away_from=token)
            raise
        if expected and expected != token:
            self._drop_run_labels(ref, expected)  # a crashed run's version, taken over

    # -- the lease: AWSPENDING ------------------------------------------------------------------------------

    def _version_dates(self, ref: SecretRef) -> dict[str, datetime]:
        """VersionId → CreatedDate, from list_secret_version_ids (no values)."""
        sid = self.secret_id(ref)
        dates: dict[str, datetime] = {}
        kwargs: dict[str, Any] = {"IncludeDeprecated": True}
        while True:
            resp = self._call("ListSecretVersionIds", sid, self._client.list_secret_version_ids, **kwargs)
            for v in resp.get("Versions") or []:
                if isinstance(v.get("CreatedDate"), datetime):
                    dates[str(v["VersionId"])] = v["CreatedDate"]
            if not resp.get("NextToken"):
                return dates
            kwargs["NextToken"] = resp["NextToken"]

    def _free_pending(self, ref: SecretRef, ttl: timedelta) -> str | None:
        """Where AWSPENDING is now if no rotation holds it (None: on no version); LeaseHeld otherwise."""
        stages = self._stages(ref)
        holders = [vid for vid, labels in stages.items() if PENDING in labels]
        busy = [vid for vid in holders if CURRENT not in stages[vid] and vid not in self._staged]
        if not busy:
            return holders[0] if holders else None
        created = self._version_dates(ref).get(busy[0])
        now = datetime.now(UTC)
        runs = [lab[len(RUN_PREFIX):].rsplit(".", 2) for lab in stages[busy[0]] if lab.startswith(RUN_PREFIX)]
        crashed = any(len(r) == 3 and owner_gone(f"{r[0]}:{r[1]}:") for r in runs)
        if created is not None and now - created < ttl and not crashed:
            raise LeaseHeld(f"{ref.name}: another rotation holds AWSPENDING (version {busy[0]}, staged "
                            f"{created.isoformat(timespec='seconds')}) in {self.secret_id(ref)!r}")
        return busy[0]  # a crashed rotation's: take it over

    def _drop_run_labels(self, ref: SecretRef, version: str) -> None:
        """Take the run labels off ``version`` (the rotation is over, or was taken over)."""
        for label in self._stages(ref).get(version, []):
            if label.startswith(RUN_PREFIX):
                self._move_label(ref, label, away_from=version)

    def _claim_pending(self, ref: SecretRef, token: str, expected: str | None) -> None:
        """Move AWSPENDING onto ``token`` only from ``expected``: the store's check-and-set."""
        from botocore.exceptions import ClientError

        sid = self.secret_id(ref)
        with self._calling("UpdateSecretVersionStage", sid):
            try:
                kwargs = {"RemoveFromVersionId": expected} if expected else {}
                self._client.update_secret_version_stage(SecretId=sid, VersionStage=PENDING,
                                                         MoveToVersionId=token, **kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidParameterException":
                    raise LeaseHeld(f"{ref.name}: another run moved AWSPENDING first in {sid!r}") from exc
                raise
        others = [vid for vid, labels in self._stages(ref).items() if PENDING in labels and vid != token]
        if others:  # label was unattached and a second run attached it too (AWS refuses that; moto does not)
            self._move_label(ref, PENDING, away_from=token)
            raise LeaseHeld(f"{ref.name}: another run staged a rotation at the same moment in {sid!r}")
        self._staged.add(token)

    def acquire_lease(self, ref: SecretRef, owner: str, ttl: timedelta) -> Lease:
        """Check no other rotation holds AWSPENDING; the claim itself is :meth:`stage_pending`'s label move."""
        self._lease_ttl = ttl
        self._free_pending(ref, ttl)
        return Lease(name=ref.name, owner=owner, expires=datetime.now(UTC) + ttl, handle="")

    def renew_lease(self, ref: SecretRef, lease: Lease, ttl: timedelta) -> None:
        """Once this run has staged: AWSPENDING must still be on its version (LeaseLost otherwise)."""
        if self._staged:
            stages = self._stages(ref)
            if not any(PENDING in stages.get(v, []) or CURRENT in stages.get(v, []) for v in self._staged):
                raise LeaseLost(f"{ref.name}: another rotation moved AWSPENDING off this run's version")
        lease.expires = datetime.now(UTC) + ttl

    def release_lease(self, ref: SecretRef, lease: Lease) -> None:
        """Nothing left to release: promotion or rollback took AWSPENDING off this run's version."""
        self._staged.clear()

    def _holder(self, ref: SecretRef, label: str) -> str | None:
        """The version that carries ``label`` now, if any."""
        for vid, stages in self._stages(ref).items():
            if label in stages:
                return vid
        return None

    def read_pending(self, ref: SecretRef, token: str) -> Secret | None:
        """The value staged by ``token`` (None if that version does not exist)."""
        resp = self._get(ref, VersionId=token)
        if resp is None:
            return None
        return Secret(self._extract(ref, resp.get("SecretString")))

    def promote(self, ref: SecretRef, token: str, expected_version: str, *, keep_previous: bool) -> str:
        """Move AWSCURRENT from ``expected_version`` to ``token``; AWS moves AWSPREVIOUS along.

        The move names ``RemoveFromVersionId=expected_version``, which Secrets
        Manager refuses when AWSCURRENT is elsewhere, so a concurrent writer is
        detected even between our check and the move. With ``keep_previous``
        False the AWSPREVIOUS label is taken off the old version as well:
        consumers that fall back to AWSPREVIOUS cannot get the leaked value.
        (The old version stays readable by its explicit VersionId until AWS
        deletes unlabelled versions; nothing in the API removes it sooner.)
        """
        from botocore.exceptions import ClientError

        sid = self.secret_id(ref)
        stages = self._stages(ref)
        if token not in stages:
            raise BackendError(f"{ref.name}: nothing staged for rotation token {token} in {sid!r}")
        current = next((vid for vid, labels in stages.items() if CURRENT in labels), None)
        if current != token and current != expected_version:
            raise ConflictError(
                f"{ref.name}: {sid!r} changed during rotation (current version is {current}, "
                f"expected {expected_version}); nothing was overwritten"
            )
        if current != token:  # else: promoted by an earlier, interrupted run; only the clean-up is left
            with self._calling("UpdateSecretVersionStage", sid):
                try:
                    self._client.update_secret_version_stage(
                        SecretId=sid, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=expected_version
                    )
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == "InvalidParameterException":
                        raise ConflictError(
                            f"{ref.name}: {sid!r} changed during rotation (AWSCURRENT moved off {expected_version}); "
                            "nothing was overwritten"
                        ) from exc
                    raise
        try:  # past the commit point: a failure here must not make the protocol revert the target
            if current != token:
                stages = self._stages(ref)
                if keep_previous and PREVIOUS not in stages.get(expected_version, []):
                    # AWS moves AWSPREVIOUS by itself; do it here if the endpoint did not.
                    self._move_label(ref, PREVIOUS, to=expected_version, away_from=self._holder(ref, PREVIOUS))
                    stages = self._stages(ref)
            if PENDING in stages.get(token, []):
                # The rotation is over; a pending label left behind blocks the next RotateSecret.
                self._move_label(ref, PENDING, away_from=token)
            self._drop_run_labels(ref, token)
            if not keep_previous:
                for vid, labels in stages.items():
                    if PREVIOUS in labels and vid != token:
                        self._move_label(ref, PREVIOUS, away_from=vid)
        except BackendError as exc:
            raise PromotedButUnfinished(f"{ref.name}: version {token} is current, but {exc}") from exc
        return token

    def read_stage(self, ref: SecretRef, label: str) -> Secret | None:
        """The value of the version labelled ``label`` (AWSPREVIOUS, …), or None if no version has it."""
        vid = self._holder(ref, label)
        return self.read_pending(ref, vid) if vid else None

    def discard_pending(self, ref: SecretRef, token: str) -> None:
        """Take AWSPENDING off the token's version; AWSCURRENT is not touched."""
        stages = self._stages(ref)
        if PENDING in stages.get(token, []):
            self._move_label(ref, PENDING, away_from=token)
        self._drop_run_labels(ref, token)

    def last_rotated(self, ref: SecretRef) -> datetime | None:
        """Since when the value has been current, from Secrets Manager's own version dates.

        The whole string: AWSCURRENT's CreatedDate. One JSON key: the
        CreatedDate of the oldest version in the unbroken run (newest first)
        whose key holds the current value, so a sibling key's rotation does
        not make it look fresh. ``LastRotatedDate`` is not used: only a
        rotation that Secrets Manager drives itself (RotateSecret and a
        Lambda) sets it.
        """
        resp = self._get(ref, VersionStage=CURRENT)
        assert resp is not None  # a missing secret raised already
        created = resp.get("CreatedDate")
        if not isinstance(created, datetime):
            return None
        if not ref.key:
            return created
        value = self._extract(ref, resp.get("SecretString"))
        dates = self._version_dates(ref)
        older = sorted((d, vid) for vid, d in dates.items() if vid != resp["VersionId"] and d <= created)
        earliest = created
        for when, vid in reversed(older):
            version = self._get(ref, VersionId=vid)
            try:
                same = version is not None and self._extract(ref, version.get("SecretString")) == value
            except BackendError:
                same = False
            if not same:
                break
            earliest = when
        return earliest

    def previous_version(self, ref: SecretRef) -> str | None:
        """The version labelled AWSPREVIOUS (what consumers fall back to), if any."""
        return self._holder(ref, PREVIOUS)
