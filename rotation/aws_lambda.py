"""The rotation protocol as an AWS Secrets Manager rotation Lambda.

Secrets Manager's own scheduler invokes ``handler`` four times per rotation
with ``{"SecretId", "ClientRequestToken", "Step"}``; the steps are our
create → set → test → finish, on the same :class:`AwsBackend` and targets
the CLI uses, so one code path rotates whether we or AWS drive it:

- ``createSecret``: generate a new value (or let a target that mints its own,
  such as ``vault_db``, issue it) and stage it under AWSPENDING with the token
  as VersionId (skipped if the token's version already has one);
- ``setSecret``: make the target (database, hook) accept the pending value;
- ``testSecret``: prove the target accepts it and the store returns it;
- ``finishSecret``: move AWSCURRENT to the token (AWSPREVIOUS follows); in
  compromised mode also drop AWSPREVIOUS and prove the old value is dead.

The standard template's guards hold: rotation must be enabled on the secret,
the token must be a version of it staged AWSPENDING (``createSecret`` may
find no version yet: it creates it), and a token already AWSCURRENT is a
finished rotation, so every step is then a no-op. Any failure raises, and
Secrets Manager retries the step later; every step is safe to repeat.

Configuration (Lambda environment):

- ``ROTATION_GENERATE``: JSON generate spec, e.g. ``{"kind": "password", "length": 32}``
  (default: a 32-character password; a DSN keeps everything but its password);
- ``ROTATION_KEY``: the key to rotate inside a JSON SecretString (default: the whole string);
- ``ROTATION_TARGET``: JSON target spec as in ``rotation.yml``, e.g.
  ``{"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}`` (default: store only);
- ``ROTATION_MODE``: ``scheduled`` (default, keeps AWSPREVIOUS like AWS's own
  templates) or ``compromised``;
- ``SECRETS_MANAGER_ENDPOINT``: endpoint override (VPC endpoint, moto); region from ``AWS_REGION``.

It logs one JSON line per step (secret id, step, token, outcome): never a value.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rotation.backends.aws import CURRENT, PENDING, AwsBackend
from rotation.backends.base import SecretRef
from rotation.errors import BackendError, ConfigError, LeakStillValid, RotationError
from rotation.generate import GenerateSpec, generate
from rotation.targets.base import StoreOnly, Target

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
MODES = ("scheduled", "compromised")
_GENERATE_KEYS = {"kind", "bytes", "length", "alphabet"}

log = logging.getLogger("git_sanitize.rotation.lambda")


@dataclass(frozen=True)
class LambdaSettings:
    """What the function rotates and how, read once from its environment."""

    generate: GenerateSpec
    key: str | None
    target_spec: Mapping[str, Any] | None
    mode: str
    region: str
    endpoint_url: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LambdaSettings:
        """Parse the ``ROTATION_*`` variables; ConfigError naming the variable otherwise."""
        spec = _json_env(env, "ROTATION_GENERATE")
        if spec is None:
            generate_spec = GenerateSpec()
        else:
            unknown = sorted(set(spec) - _GENERATE_KEYS)
            if unknown:
                raise ConfigError(f"ROTATION_GENERATE: unknown key {unknown[0]!r}")
            try:
                generate_spec = GenerateSpec(**spec)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"ROTATION_GENERATE: {exc}") from None
        target = _json_env(env, "ROTATION_TARGET")
        if target is not None and not isinstance(target.get("type"), str):
            raise ConfigError("ROTATION_TARGET: missing 'type'")
        mode = env.get("ROTATION_MODE", "scheduled")
        if mode not in MODES:
            raise ConfigError(f"ROTATION_MODE must be one of {', '.join(MODES)} (got {mode!r})")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigError("AWS_REGION is not set")
        return cls(
            generate=generate_spec,
            key=env.get("ROTATION_KEY") or None,
            target_spec=target,
            mode=mode,
            region=region,
            endpoint_url=env.get("SECRETS_MANAGER_ENDPOINT") or None,
        )

    def make_target(self, secret_name: str, env: Mapping[str, str]) -> Target:
        """The configured target (built by the same factories as ``rotation.yml``), or store-only."""
        if self.target_spec is None:
            return StoreOnly()
        from rotation.config import BackendConfig
        from rotation.targets import TARGETS, TargetContext

        kind = str(self.target_spec["type"])
        if kind not in TARGETS:
            raise ConfigError(f"ROTATION_TARGET: 'type' must be one of {', '.join(sorted(TARGETS))}")
        backend = BackendConfig(type="aws", region=self.region, endpoint_url=self.endpoint_url)
        try:
            return TARGETS[kind](self.target_spec, TargetContext(secret_name=secret_name, backend=backend, env=env))
        except ConfigError as exc:
            raise ConfigError(f"ROTATION_TARGET: {exc}") from None


def _json_env(env: Mapping[str, str], name: str) -> dict[str, Any] | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return value


def _emit(secret_id: str, step: str, token: str, status: str, **detail: Any) -> None:
    log.info(
        json.dumps(
            {
                "event": "rotation-step",
                "secret_id": secret_id,
                "step": step,
                "token": token,
                "status": status,
                **detail,
            },
            sort_keys=True,
            default=str,
        )
    )


def run_step(
    secret_id: str,
    token: str,
    step: str,
    *,
    backend: AwsBackend,
    settings: LambdaSettings,
    target: Target,
) -> str:
    """One rotation step for ``secret_id``; returns what happened ("done", "already …").

    Separate from :func:`handler` so tests and the CLI can pass their own
    backend and target; raises RotationError (``step`` set) on any failure.
    """
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {step!r} (expected one of {', '.join(STEPS)})")
    ref = SecretRef(name=secret_id, secret_id=secret_id, key=settings.key)
    try:
        desc = backend.describe(ref)
    except RotationError as exc:
        raise type(exc)(str(exc), step=step) from exc
    if not desc.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for secret {secret_id!r}", step=step)
    versions: dict[str, list[str]] = dict(desc.get("VersionIdsToStages") or {})
    stages = versions.get(token)
    if stages is None and step != "createSecret":
        raise RotationError(f"secret {secret_id!r} has no version {token} to rotate", step=step)
    if stages is not None:
        if CURRENT in stages:
            return "already current"
        if PENDING not in stages:
            raise RotationError(f"version {token} of {secret_id!r} is not staged AWSPENDING", step=step)

    try:
        if step == "createSecret":
            if backend.read_pending(ref, token) is not None:
                return "already created"
            current = backend.read_current(ref)
            issue = getattr(target, "issue", None)
            # A target that mints its own credential (vault_db) supplies the value; others get a generated one.
            value = issue(current.value) if callable(issue) else generate(settings.generate, current.value)
            backend.stage_pending(ref, value, token)
            return "issued" if callable(issue) else "created"
        pending = backend.read_pending(ref, token)
        if pending is None:
            raise BackendError(f"no pending value for version {token}; run createSecret first")
        if step == "setSecret":
            target.apply(backend.read_current(ref).value, pending)
            return "set"
        if step == "testSecret":
            target.test(pending)
            return "tested"
        # finishSecret
        current = backend.read_current(ref)
        backend.promote(ref, token, current.version, keep_previous=(settings.mode == "scheduled"))
        if settings.mode == "compromised":
            proof = target.prove_leak_dead(current.value)
            if proof is not None and not proof.leaked_rejected:
                raise LeakStillValid(f"{secret_id}: the old credential still works on the {target.kind} target")
            if proof is not None:
                return f"finished; leaked credential rejected; {proof.sessions_terminated} sessions terminated"
        return "finished"
    except LeakStillValid:
        raise
    except RotationError as exc:
        if exc.step:
            raise
        raise type(exc)(str(exc), step=step) from exc


def handler(event: Mapping[str, Any], context: object = None) -> None:
    """Secrets Manager rotation entry point (``Step`` is one of :data:`STEPS`)."""
    try:
        secret_id = str(event["SecretId"])
        token = str(event["ClientRequestToken"])
        step = str(event["Step"])
    except KeyError as exc:
        raise RotationError(f"rotation event is missing {exc.args[0]!r}") from None
    env = os.environ
    settings = LambdaSettings.from_env(env)
    backend = AwsBackend(settings.region, endpoint_url=settings.endpoint_url)
    target = settings.make_target(secret_id, env)
    try:
        outcome = run_step(secret_id, token, step, backend=backend, settings=settings, target=target)
    except RotationError as exc:
        _emit(secret_id, step, token, "failed", error=str(exc))
        raise
    _emit(secret_id, step, token, outcome)
