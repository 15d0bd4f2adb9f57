"""The rotation protocol as an AWS Secrets Manager rotation Lambda: a thin adapter.

Secrets Manager invokes ``handler`` four times per rotation with
``{"SecretId", "ClientRequestToken", "Step"}``. Each step calls the matching
step of :mod:`rotation.protocol` on the same :class:`AwsBackend` and targets
the CLI uses; this module only adds what AWS's own rotation templates do:

- the guards: rotation must be enabled on the secret; a token that is not in
  ``VersionIdsToStages`` is an error; a token already AWSCURRENT is a finished
  rotation (every step is then a no-op); any other token must be AWSPENDING;
- ``createSecret``: a version already staged for the token is kept;
  otherwise :func:`~rotation.protocol.new_value` (generated, or issued by a
  target such as ``vault_db``) is staged under AWSPENDING;
- ``setSecret``: if the pending credential already logs in, it is done (a
  retried step); otherwise the target is set to it;
- ``testSecret``: :func:`~rotation.protocol.test_pending`;
- ``finishSecret``: in compromised mode the leaked (current) credential is
  proven refused *before* AWSCURRENT moves: a failure raises, nothing is
  promoted, and every retry of finishSecret repeats the proof instead of
  finding a promoted token and reporting it finished. Then AWSCURRENT moves to
  the token (AWSPREVIOUS follows; compromised mode drops it).

The secret may be a URL DSN, a JSON object with a key to rotate
(``ROTATION_KEY``), or the templates' and RDS's JSON shape ``{engine, host,
username, password, dbname, port}`` (:mod:`rotation.backends.rds_json`). For
that shape the target follows ``engine`` unless ``ROTATION_TARGET`` names one,
and the admin credential comes from the secret named by its ``masterarn``
field (the templates' multi-user form); without one, a PostgreSQL user
changes its own password (the templates' single-user form).

Strategies (``ROTATION_STRATEGY``): ``single-user`` (default: the user's
password changes; consumers of the old one fail until they read the new one)
and ``alternating-users`` (PostgreSQL, needs ``masterarn``: the pending
version names the other of ``user`` / ``user_clone``, created on first use as
a member of ``user``, so the previous login keeps working until the next
rotation; refused in compromised mode, which must leave the leaked login dead).

Configuration (Lambda environment):

- ``ROTATION_GENERATE``: JSON generate spec, e.g. ``{"kind": "password", "length": 32}``
  (default: a 32-character password; a DSN keeps everything but its password);
- ``ROTATION_KEY``: the key to rotate inside a JSON SecretString (default: the whole string);
- ``ROTATION_TARGET``: JSON target spec as in ``rotation.yml``, e.g.
  ``{"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}`` (default: from the secret's ``engine``, else store only);
- ``ROTATION_MODE``: ``scheduled`` (default, keeps AWSPREVIOUS like AWS's own
  templates) or ``compromised``;
- ``ROTATION_STRATEGY``: ``single-user`` (default) or ``alternating-users``;
- ``SECRETS_MANAGER_ENDPOINT``: endpoint override (VPC endpoint, moto); region from ``AWS_REGION``.

``sanitize/templates/aws/rotation-lambda.yml`` is a SAM template for it, with
the IAM policy it needs. It logs one JSON line per step (secret id, step,
token, outcome): never a value.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rotation.backends.aws import CURRENT, PENDING, PREVIOUS, AwsBackend
from rotation.backends.base import SecretRef
from rotation.backends.rds_json import RdsJsonBackend, engine_of, to_dsn
from rotation.errors import BackendError, ConfigError, LeakStillValid, RotationError, TargetError
from rotation.generate import GenerateSpec, dsn_user
from rotation.protocol import new_value, prove_dead, test_pending
from rotation.targets.base import StoreOnly, Target
from sanitize.secret import Secret

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
MODES = ("scheduled", "compromised")
STRATEGIES = ("single-user", "alternating-users")
CLONE_SUFFIX = "_clone"
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
    strategy: str = "single-user"

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
        strategy = env.get("ROTATION_STRATEGY", "single-user")
        if strategy not in STRATEGIES:
            raise ConfigError(f"ROTATION_STRATEGY must be one of {', '.join(STRATEGIES)} (got {strategy!r})")
        if strategy == "alternating-users" and mode == "compromised":
            raise ConfigError("ROTATION_STRATEGY alternating-users keeps the previous login working until the next "
                              "rotation; compromised mode must end it now: use single-user")
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
            strategy=strategy,
        )

    def make_target(self, secret_name: str, env: Mapping[str, str], *, admin_dsn: Secret | None = None,
                    kind: str | None = None) -> Target:
        """The target (built by the same factories as ``rotation.yml``), or store-only.

        ``admin_dsn`` (from a master secret, or the user's own login) replaces
        the spec's ``admin_dsn_env``; ``kind`` is the type the secret's
        ``engine`` implies when ROTATION_TARGET names none.
        """
        from rotation.config import BackendConfig
        from rotation.targets import TARGETS, TargetContext, admin_dsn_target

        spec = dict(self.target_spec or {})
        kind = str(spec.get("type") or kind or "")
        if not kind:
            return StoreOnly()
        if kind not in TARGETS:
            raise ConfigError(f"ROTATION_TARGET: 'type' must be one of {', '.join(sorted(TARGETS))}")
        backend = BackendConfig(type="aws", region=self.region, endpoint_url=self.endpoint_url)
        try:
            if admin_dsn is not None:
                from rotation.targets.postgres import PostgresTarget

                cls: Any = TARGETS[kind]
                if kind == "postgres":
                    cls = functools.partial(PostgresTarget, alternate_users=self.strategy == "alternating-users")
                else:
                    cls = _target_class(kind)
                spec = {"type": kind, "admin_dsn_env": "ROTATION_ADMIN_DSN",
                        **({"connect_timeout": spec["connect_timeout"]} if "connect_timeout" in spec else {})}
                made: Target = admin_dsn_target(cls, spec, TargetContext(
                    secret_name=secret_name, backend=backend, env={"ROTATION_ADMIN_DSN": admin_dsn.reveal()}))
                return made
            return TARGETS[kind](spec, TargetContext(secret_name=secret_name, backend=backend, env=env))
        except ConfigError as exc:
            raise ConfigError(f"ROTATION_TARGET: {exc}") from None


def _target_class(kind: str) -> Any:
    import importlib

    module, name = {"mysql": ("rotation.targets.mysql", "MysqlTarget"),
                    "redis": ("rotation.targets.redis", "RedisTarget")}.get(kind, ("", ""))
    if not module:
        raise ConfigError(f"a {kind} target cannot take its admin credential from a master secret")
    return getattr(importlib.import_module(module), name)


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


def toggled_user(user: str) -> str:
    """The alternating-users strategy's other login: ``user`` ⇄ ``user_clone`` (as AWS's templates name it)."""
    return user[: -len(CLONE_SUFFIX)] if user.endswith(CLONE_SUFFIX) else user + CLONE_SUFFIX


def _with_user(dsn: Secret, user: str) -> Secret:
    """``dsn`` naming ``user`` instead (URL form; the password is set by the caller)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(dsn.reveal())
    _userinfo, _, hostport = parts.netloc.rpartition("@")
    password = parts.password or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{hostport}"
    return Secret(urlunsplit(parts._replace(netloc=netloc)))


def resolve_target(secret_id: str, backend: AwsBackend, settings: LambdaSettings, env: Mapping[str, str],
                   *, login: Secret | None = None) -> Target:
    """The target for this secret: its master secret's admin login (``masterarn``), else ROTATION_TARGET, else
    (the templates' JSON shape, PostgreSQL) ``login`` — the user changing its own password."""
    ref = SecretRef(name=secret_id, secret_id=secret_id)
    doc = backend.document(ref, VersionStage=CURRENT) if isinstance(backend, RdsJsonBackend) else None
    kind = engine_of(doc).target if doc is not None else None
    if doc is not None and isinstance(doc.get("masterarn"), str) and doc["masterarn"]:
        assert isinstance(backend, RdsJsonBackend)
        master_ref = SecretRef(name=f"{secret_id} master", secret_id=doc["masterarn"])
        master = backend.document(master_ref, VersionStage=CURRENT)
        if master is None:
            raise ConfigError(f"the master secret of {secret_id!r} is not in the JSON shape "
                              "{engine, host, username, password, dbname, port}")
        return settings.make_target(secret_id, env, admin_dsn=Secret(to_dsn(master)), kind=kind)
    if settings.strategy == "alternating-users":
        raise ConfigError(f"ROTATION_STRATEGY alternating-users needs a 'masterarn' in {secret_id!r} to create "
                          "and change the other user")
    if settings.target_spec is not None or doc is None:
        return settings.make_target(secret_id, env)
    if kind != "postgres" or login is None:
        raise ConfigError(f"{secret_id!r}: a {doc.get('engine')} secret needs a 'masterarn' (the admin credential) "
                          "or ROTATION_TARGET with admin_dsn_env")
    return settings.make_target(secret_id, env, admin_dsn=login, kind=kind)


def run_step(
    secret_id: str,
    token: str,
    step: str,
    *,
    backend: AwsBackend,
    settings: LambdaSettings,
    target: Target | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """One rotation step for ``secret_id``; returns what happened ("done", "already …").

    Separate from :func:`handler` so tests and the CLI can pass their own
    backend and target (None: :func:`resolve_target`); raises RotationError
    (``step`` set) on any failure.
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
    env = os.environ if env is None else env
    try:
        current = backend.read_current(ref)
        if step == "createSecret":
            return _create(ref, token, backend, settings, current.value, target, env)
        pending = backend.read_pending(ref, token)
        if pending is None:
            raise BackendError(f"no pending value for version {token}; run createSecret first")
        if step == "setSecret":
            return _set(ref, backend, settings, current.value, pending, target, env)
        login = pending if step == "finishSecret" else current.value  # the old password is dead by finish
        target = target or resolve_target(secret_id, backend, settings, env, login=login)
        if step == "testSecret":
            test_pending(backend, ref, target, token, pending)
            return "tested"
        # finishSecret: prove first, then promote, so a failed proof is retried, never reported finished.
        detail = ""
        if settings.mode == "compromised":
            proof = prove_dead(target, ref, current.value)
            if proof is not None:
                detail = f"; leaked credential rejected; {proof.sessions_terminated} sessions terminated"
        backend.promote(ref, token, current.version, keep_previous=(settings.mode == "scheduled"))
        return "finished" + detail
    except LeakStillValid as exc:
        raise LeakStillValid(f"{step}: {exc}") from exc
    except RotationError as exc:
        if exc.step:
            raise
        raise type(exc)(str(exc), step=step) from exc


def _create(ref: SecretRef, token: str, backend: AwsBackend, settings: LambdaSettings, current: Secret,
            target: Target | None, env: Mapping[str, str]) -> str:
    if backend.read_pending(ref, token) is not None:
        return "already created"
    target = target or resolve_target(ref.name, backend, settings, env, login=current)
    value = new_value(settings.generate, target, current)
    if settings.strategy == "alternating-users":
        user = dsn_user(current.reveal())
        if not user:
            raise TargetError("alternating-users: the current value names no user")
        value = _with_user(value, toggled_user(user))
    backend.stage_pending(ref, value, token)
    return "issued" if callable(getattr(target, "issue", None)) else "created"


def _set(ref: SecretRef, backend: AwsBackend, settings: LambdaSettings, current: Secret, pending: Secret,
         target: Target | None, env: Mapping[str, str]) -> str:
    """setSecret as the templates do it: the pending credential already works → done; else set it, logging in
    (for a user changing its own password) with the current credential, else AWSPREVIOUS's."""
    previous = backend.read_stage(ref, PREVIOUS)
    logins = [current] + ([previous] if previous is not None and previous != current and target is None else [])
    failure: TargetError | None = None
    for login in logins:
        resolved = target or resolve_target(ref.name, backend, settings, env, login=login)
        try:
            resolved.test(pending)
        except TargetError:
            pass
        else:
            return "already set"
        try:
            resolved.apply(current, pending)
        except TargetError as exc:
            failure = exc
            continue
        return "set"
    assert failure is not None
    raise failure


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
    backend = RdsJsonBackend(settings.region, endpoint_url=settings.endpoint_url)
    try:
        outcome = run_step(secret_id, token, step, backend=backend, settings=settings, env=env)
    except (RotationError, LeakStillValid) as exc:  # a failed proof is a verification failure, not a crash
        _emit(secret_id, step, token, "failed", error=str(exc))
        raise
    _emit(secret_id, step, token, outcome)
