"""Consumers: what must reload or restart once the new value is current (``consumers:`` in rotation.yml).

They run after promotion, never before: a restart hook that runs earlier
re-reads the old value (and a failing one used to roll the rotation back).
Each gets no value at all — it reads the store, as it does at start — only
``ROTATION_SECRET_NAME`` and ``ROTATION_VERSION``. Three forms:

- ``{type: command, argv: [...], timeout: 60}``: exit 0 is success;
- ``{type: kubectl, resource: deployment/web[, namespace: N][, context: C][, kubectl: PATH][, wait: true]}``:
  ``kubectl rollout restart`` then (``wait``) ``kubectl rollout status``, as commands;
- ``{type: webhook, url: https://…[, token_env: NAME][, timeout: 30]}``: a POST of
  ``{"event": "secret.rotated", "secret", "version"}`` (no value); any 2xx is success
  (:mod:`rotation.webcall`: https unless loopback, redirects not followed).

What each printed or answered is kept, redacted of the old and new values, in
the step's log record. A consumer that fails does not undo the rotation (the
new value is already current): the secret's outcome says which one failed.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rotation.errors import ConfigError, TargetError
from rotation.hooks import run_hook
from rotation.output import kept
from rotation.webcall import check_url, send
from sanitize.secret import Secret

_COMMAND_KEYS = {"type", "argv", "timeout"}
_KUBECTL_KEYS = {"type", "resource", "namespace", "context", "kubectl", "wait", "timeout"}
_WEBHOOK_KEYS = {"type", "url", "token_env", "timeout"}


@dataclass(frozen=True)
class Reloaded:
    """One consumer's answer: ``ok``, a value-free ``detail`` and its (redacted) ``output``."""

    ok: bool
    detail: str
    output: str = ""


class Consumer(ABC):
    """Something that uses the secret and must pick up the new value."""

    label: str

    @abstractmethod
    def reload(self, secret: str, version: str | None, values: Sequence[Secret]) -> Reloaded:
        """Make it load the current value; ``values`` (old and new) are what its output is redacted of."""


class CommandConsumer(Consumer):
    """Runs one or more commands in order; the first non-zero exit stops and fails."""

    def __init__(self, commands: Sequence[Sequence[str]], *, timeout: int = 60, label: str | None = None) -> None:
        self.commands = [list(c) for c in commands]
        self.timeout = timeout
        self.label = label or f"command {self.commands[0][0]}"

    def reload(self, secret: str, version: str | None, values: Sequence[Secret]) -> Reloaded:
        """Each command with no stdin; output kept redacted."""
        env = {"ROTATION_STEP": "consume", "ROTATION_SECRET_NAME": secret, "ROTATION_VERSION": version or ""}
        outputs: list[str] = []
        for argv in self.commands:
            try:
                run = run_hook(argv, value=None, env=env, timeout=self.timeout, what="consumer")
            except TargetError as exc:
                return Reloaded(ok=False, detail=str(exc), output="\n".join(outputs))
            outputs.append(kept(run.output, values))
            if run.returncode != 0:
                return Reloaded(ok=False, detail=f"{argv[0]} exited {run.returncode}",
                                output="\n".join(o for o in outputs if o))
        return Reloaded(ok=True, detail="exit 0", output="\n".join(o for o in outputs if o))


class WebhookConsumer(Consumer):
    """POSTs a value-free rotation event; the receiver reloads from the store."""

    def __init__(self, url: str, *, token: Secret | None = None, timeout: int = 30) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self.label = f"webhook {url}"

    def reload(self, secret: str, version: str | None, values: Sequence[Secret]) -> Reloaded:
        """POST the event; any 2xx is success."""
        body = json.dumps({"event": "secret.rotated", "secret": secret, "version": version}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "git-sanitize-rotation"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.reveal()}"
        hidden = [*values, *([self.token] if self.token is not None else [])]
        answer = send(self.url, method="POST", headers=headers, data=body, timeout=self.timeout)
        if not answer.status:
            return Reloaded(ok=False, detail=f"webhook unreachable ({answer.error})")
        return Reloaded(ok=200 <= answer.status < 300, detail=f"HTTP {answer.status}", output=kept(answer.body, hidden))


def _timeout(spec: Mapping[str, Any], key: str, default: int) -> int:
    value = spec.get("timeout", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3600:
        raise ConfigError(f"'{key}.timeout' must be an integer number of seconds (1-3600)")
    return value


def _text(spec: Mapping[str, Any], name: str, key: str, *, required: bool = False) -> str | None:
    value = spec.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ConfigError(f"'{key}.{name}' must be a non-empty string")
    return value


def _unknown(spec: Mapping[str, Any], allowed: set[str], key: str) -> None:
    extra = sorted(str(k) for k in set(spec) - allowed)
    if extra:
        raise ConfigError(f"unknown key '{key}.{extra[0]!s}' (allowed: {', '.join(sorted(allowed))})")


def argv_of(value: object, key: str) -> list[str]:
    """A non-empty list of non-empty strings (an argv), else ConfigError naming ``key``."""
    if not isinstance(value, list) or not value or not all(isinstance(a, str) and a for a in value):
        raise ConfigError(f"'{key}' must be a non-empty list of strings")
    return list(value)


def _kubectl(spec: Mapping[str, Any], key: str) -> CommandConsumer:
    resource = _text(spec, "resource", key, required=True)
    assert resource is not None
    if "/" not in resource or resource.startswith("-"):
        raise ConfigError(f"'{key}.resource' must be KIND/NAME, e.g. deployment/web")
    base = [_text(spec, "kubectl", key) or "kubectl"]
    for flag in ("context", "namespace"):
        value = _text(spec, flag, key)
        if value is not None:
            if value.startswith("-"):
                raise ConfigError(f"'{key}.{flag}' must not start with '-'")
            base += [f"--{flag}", value]
    wait = spec.get("wait", True)
    if not isinstance(wait, bool):
        raise ConfigError(f"'{key}.wait' must be true or false")
    timeout = _timeout(spec, key, 300)
    commands = [[*base, "rollout", "restart", resource]]
    if wait:
        commands.append([*base, "rollout", "status", resource, f"--timeout={timeout}s"])
    return CommandConsumer(commands, timeout=timeout + 30, label=f"kubectl rollout restart {resource}")


def _consumer(item: object, key: str, env: Mapping[str, str]) -> Consumer:
    if not isinstance(item, Mapping):
        raise ConfigError(f"'{key}' must be a mapping")
    kind = item.get("type")
    if kind == "command":
        _unknown(item, _COMMAND_KEYS, key)
        return CommandConsumer([argv_of(item.get("argv"), f"{key}.argv")], timeout=_timeout(item, key, 60))
    if kind == "kubectl":
        _unknown(item, _KUBECTL_KEYS, key)
        return _kubectl(item, key)
    if kind == "webhook":
        _unknown(item, _WEBHOOK_KEYS, key)
        url = check_url(item.get("url"), f"{key}.url")
        token_env = _text(item, "token_env", key)
        token = None
        if token_env is not None:
            if not env.get(token_env):
                raise ConfigError(f"environment variable {token_env} ({key}.token_env) is not set")
            token = Secret(env[token_env])
        return WebhookConsumer(url, token=token, timeout=_timeout(item, key, 30))
    raise ConfigError(f"'{key}.type' must be one of command, kubectl, webhook")


def parse_consumers(data: object, key: str, env: Mapping[str, str]) -> tuple[Consumer, ...]:
    """The ``consumers:`` list of one secret (ConfigError naming the key)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"'{key}' must be a list")
    return tuple(_consumer(item, f"{key}[{i}]", env) for i, item in enumerate(data))
