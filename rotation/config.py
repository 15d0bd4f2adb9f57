"""The rotation config (``rotation.yml``): parsed strictly into frozen dataclasses.

Every problem is one :class:`~rotation.errors.ConfigError` (exit 2) naming the
key: unknown keys, wrong types, missing environment variables. Nothing here
connects to a store or a database; that happens when the engine runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from rotation.backends.base import SecretBackend, SecretRef
from rotation.consumers import Consumer, parse_consumers
from rotation.errors import ConfigError
from rotation.generate import KINDS, GenerateSpec
from rotation.proofs import Proof, parse_proofs
from rotation.revocation import RevocationConfig, parse_revocation
from rotation.schedule import parse_max_age
from rotation.targets.base import StoreOnly, Target
from sanitize.git import redact_url
from sanitize.secret import Secret

_TOP_KEYS = {"backend", "secrets", "audit_log", "lock_dir", "revocation"}
_VAULT_KEYS = {"type", "url", "token_env", "mount"}
_AWS_KEYS = {"type", "region", "endpoint_url"}
_SECRET_KEYS = {"name", "path", "key", "secret_id", "generate", "max_age", "target", "consumers", "proofs"}
_GENERATE_KEYS = {"kind", "bytes", "length", "alphabet", "alg", "format"}


@dataclass(frozen=True)
class BackendConfig:
    """Which store: ``vault`` (url, token from ``token_env``, KV v2 ``mount``) or ``aws`` (region, endpoint)."""

    type: str
    url: str | None = field(default=None, repr=False)  # may carry user info: shown only through redact_url
    token_env: str | None = None
    token: Secret | None = field(default=None, repr=False)
    mount: str = "secret"
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def identity(self) -> str:
        """Names this store for locks and the audit log (no credentials)."""
        if self.type == "vault":
            return f"vault:{redact_url(self.url or '')}/{self.mount}"
        return f"aws:{self.region}:{self.endpoint_url or 'default'}"

    def create(self) -> SecretBackend:
        """Instantiate the backend (imports its client library only now)."""
        if self.type == "vault":
            from rotation.backends.vault import VaultBackend

            assert self.url is not None and self.token is not None
            return VaultBackend(self.url, self.token, mount=self.mount)
        from rotation.backends.aws import AwsBackend

        assert self.region is not None
        backend: SecretBackend = AwsBackend(self.region, endpoint_url=self.endpoint_url)
        return backend


@dataclass(frozen=True)
class SecretConfig:
    """One secret to rotate: where it lives, how to generate it, how old it may get, what uses it."""

    name: str
    ref: SecretRef
    generate: GenerateSpec
    max_age: timedelta | None = None
    target_spec: Mapping[str, Any] | None = None
    target: Target = field(default_factory=StoreOnly, compare=False)
    #: What reloads once the new value is current (:mod:`rotation.consumers`).
    consumers: tuple[Consumer, ...] = field(default=(), compare=False)
    #: Checks that must refuse the leaked value (:mod:`rotation.proofs`).
    proofs: tuple[Proof, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RotationConfig:
    """A whole rotation config; ``audit_log``/``lock_dir`` are absolute (relative to the config file)."""

    backend: BackendConfig
    secrets: tuple[SecretConfig, ...]
    audit_log: Path | None = None
    lock_dir: Path | None = None
    path: Path | None = None
    #: Provider APIs for ``rotate --revoke`` (:mod:`rotation.revocation`).
    revocation: RevocationConfig = field(default_factory=RevocationConfig)

    def secret(self, name: str) -> SecretConfig:
        """The secret called ``name``; ConfigError if the config has none."""
        for s in self.secrets:
            if s.name == name:
                return s
        raise ConfigError(f"no secret named {name!r} in the config")


def _where(path: Path | None) -> str:
    return f"{path}: " if path else ""


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{key}' must be a mapping")
    for k in value:
        if not isinstance(k, str):
            raise ConfigError(f"'{key}' has a non-string key")
    return value


def _no_unknown(data: Mapping[str, Any], allowed: set[str], key: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        name = unknown[0] if unknown[0].isprintable() else repr(unknown[0])  # one line, whatever the key
        raise ConfigError(f"unknown key '{key}.{name}' (allowed: {', '.join(sorted(allowed))})")


def _str(data: Mapping[str, Any], name: str, key: str, *, required: bool = False, default: str | None = None
         ) -> str | None:
    value = data.get(name, default)
    if value is None:
        if required:
            raise ConfigError(f"missing required key '{key}.{name}'")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{key}.{name}' must be a non-empty string")
    return value


def _int(data: Mapping[str, Any], name: str, key: str, default: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"'{key}.{name}' must be an integer")
    return value


def _backend(data: object, env: Mapping[str, str]) -> BackendConfig:
    b = _mapping(data, "backend")
    kind = b.get("type")
    if kind == "vault":
        _no_unknown(b, _VAULT_KEYS, "backend")
        url = _str(b, "url", "backend") or env.get("VAULT_ADDR")
        if not url:
            raise ConfigError("missing required key 'backend.url' (and VAULT_ADDR is not set)")
        if not url.startswith(("http://", "https://")):
            raise ConfigError("'backend.url' must be an http:// or https:// URL")
        token_env = _str(b, "token_env", "backend", default="VAULT_TOKEN")
        assert token_env is not None
        token = env.get(token_env)
        if not token:
            raise ConfigError(f"environment variable {token_env} (backend.token_env) is not set")
        mount = _str(b, "mount", "backend", default="secret")
        assert mount is not None
        return BackendConfig(type="vault", url=url.rstrip("/"), token_env=token_env, token=Secret(token),
                             mount=mount.strip("/"))
    if kind == "aws":
        _no_unknown(b, _AWS_KEYS, "backend")
        region = _str(b, "region", "backend") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigError("missing required key 'backend.region' (and AWS_REGION is not set)")
        endpoint = _str(b, "endpoint_url", "backend")
        return BackendConfig(type="aws", region=region, endpoint_url=endpoint)
    raise ConfigError("'backend.type' must be 'vault' or 'aws'")


def _generate(data: object, key: str) -> GenerateSpec:
    if data is None:
        return GenerateSpec()
    g = _mapping(data, key)
    _no_unknown(g, _GENERATE_KEYS, key)
    kind = _str(g, "kind", key, default="password")
    if kind not in KINDS:
        raise ConfigError(f"'{key}.kind' must be one of {', '.join(KINDS)}")
    alphabet = _str(g, "alphabet", key)
    try:
        return GenerateSpec(kind=kind, bytes=_int(g, "bytes", key, 32), length=_int(g, "length", key, 32),
                            alphabet=alphabet, alg=_str(g, "alg", key), format=_str(g, "format", key) or "jwk")
    except ConfigError as exc:
        raise ConfigError(f"'{key}': {exc}") from None


def _target(data: object, key: str, name: str, backend: BackendConfig, env: Mapping[str, str]
            ) -> tuple[Mapping[str, Any] | None, Target]:
    if data is None:
        return None, StoreOnly()
    from rotation.targets import TARGETS, TargetContext

    t = _mapping(data, key)
    kind = t.get("type")
    if not isinstance(kind, str) or kind not in TARGETS:
        raise ConfigError(f"'{key}.type' must be one of {', '.join(sorted(TARGETS))}")
    try:
        target = TARGETS[kind](t, TargetContext(secret_name=name, backend=backend, env=env))
    except ConfigError as exc:
        raise ConfigError(f"'{key}': {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:  # a factory that did not validate a type itself
        raise ConfigError(f"'{key}' has a value of the wrong type ({type(exc).__name__})") from None
    return dict(t), target


def _secret(data: object, index: int, backend: BackendConfig, env: Mapping[str, str]) -> SecretConfig:
    key = f"secrets[{index}]"
    s = _mapping(data, key)
    _no_unknown(s, _SECRET_KEYS, key)
    name = _str(s, "name", key, required=True)
    assert name is not None
    if backend.type == "vault":
        path = (_str(s, "path", key, required=True) or "").strip("/")
        if not path:
            raise ConfigError(f"'{key}.path' must name a secret path, not the mount root")
        ref = SecretRef(name=name, path=path, key=_str(s, "key", key, default=name))
        if s.get("secret_id") is not None:
            raise ConfigError(f"'{key}.secret_id' is for the aws backend; use path and key")
    else:
        ref = SecretRef(name=name, secret_id=_str(s, "secret_id", key, required=True), key=_str(s, "key", key))
        if s.get("path") is not None:
            raise ConfigError(f"'{key}.path' is for the vault backend; use secret_id")
    max_age = s.get("max_age")
    if max_age is not None:
        try:
            max_age = parse_max_age(max_age)
        except ConfigError as exc:
            raise ConfigError(f"'{key}.max_age': {exc}") from None
    spec, target = _target(s.get("target"), f"{key}.target", name, backend, env)
    return SecretConfig(name=name, ref=ref, generate=_generate(s.get("generate"), f"{key}.generate"),
                        max_age=max_age, target_spec=spec, target=target,
                        consumers=parse_consumers(s.get("consumers"), f"{key}.consumers", env),
                        proofs=parse_proofs(s.get("proofs"), f"{key}.proofs"))


def parse_config(data: object, *, base: Path | None = None, env: Mapping[str, str] | None = None,
                 path: Path | None = None) -> RotationConfig:
    """Validate a parsed YAML document into a RotationConfig (ConfigError otherwise)."""
    try:
        return _parse(data, base=base, env=os.environ if env is None else env, path=path)
    except ConfigError as exc:
        text = str(exc)
        if text.isprintable():
            raise
        # Names from the file (env var names, keys) may hold control characters: keep it one line.
        raise ConfigError(text.encode("unicode_escape").decode("ascii")) from None


def _parse(data: object, *, base: Path | None, env: Mapping[str, str], path: Path | None) -> RotationConfig:
    top = _mapping(data, "<top level>")
    _no_unknown(top, _TOP_KEYS, "<top level>")
    if "backend" not in top:
        raise ConfigError("missing required key 'backend'")
    backend = _backend(top["backend"], env)
    raw = top.get("secrets")
    if not isinstance(raw, list) or not raw:
        raise ConfigError("'secrets' must be a non-empty list")
    secrets = tuple(_secret(item, i, backend, env) for i, item in enumerate(raw))
    seen: set[str] = set()
    for s in secrets:
        if s.name in seen:
            raise ConfigError(f"duplicate secret name {s.name!r}")
        seen.add(s.name)
    base = base or Path.cwd()
    audit = _str(top, "audit_log", "<top level>")
    lock_dir = _str(top, "lock_dir", "<top level>")
    return RotationConfig(
        backend=backend, secrets=secrets,
        audit_log=(base / audit).resolve() if audit else None,
        lock_dir=(base / lock_dir).resolve() if lock_dir else None,
        path=path, revocation=parse_revocation(top.get("revocation"), env),
    )


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> RotationConfig:
    """Read and validate ``rotation.yml``; ConfigError (exit 2) with one line naming the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read rotation config ({exc.__class__.__name__})") from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{p}: YAML nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}: not valid YAML{where}") from None
    try:
        return parse_config(data, base=p.resolve().parent, env=env, path=p.resolve())
    except ConfigError as exc:
        raise ConfigError(f"{_where(p)}{exc}") from None
