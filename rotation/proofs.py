"""Proof steps: checks that must refuse the leaked value (``proofs:`` in rotation.yml).

Compromised mode runs them after promotion and after the consumers reloaded.
Each check runs twice: with the **new** value first, which must be accepted
(a check that refuses everything — the app is down, the URL is wrong, the
script crashed — proves nothing), then with the **leaked** value, which must
be refused. Two forms:

- ``{type: command, argv: [...], timeout: 60}``: the value on stdin; exit 0 means
  accepted, any other exit status means refused;
- ``{type: http, url: …, auth: bearer|basic|jwt|header[, username][, header][, claims][, kid][, method: GET]
  [, refused: [401, 403]][, timeout: 10]}``: a request authenticated with the value
  (``bearer``: ``Authorization: Bearer <value>``; ``basic``: ``username`` and the value;
  ``jwt``: a bearer token over ``claims`` signed with the value — HS256 for a secret, the key's own
  RS256/ES256/EdDSA for a private key (:mod:`rotation.signing_keys`) — with ``kid: thumbprint`` the
  key's RFC 7638 kid; ``header``: the value in header ``header``). A 2xx answer is accepted,
  a status in ``refused`` is refused, anything else (a redirect too: none is followed) is unclear.

With ``settle: N`` the new value's check is retried for up to N seconds until
it is accepted (a rollout still in progress); the leaked value is tried once,
after the new one was accepted.

The verdict (:func:`run_proofs`): leaked accepted anywhere → still live; every
check refused the leaked value and accepted the new one → proven dead;
otherwise not provable, and ``why`` says which check answered what.
"""

from __future__ import annotations

import base64
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rotation import signing_keys
from rotation.consumers import argv_of
from rotation.errors import ConfigError, TargetError
from rotation.hooks import run_hook
from rotation.output import kept
from rotation.webcall import check_url, send
from sanitize.secret import Secret

ACCEPTED, REFUSED, UNCLEAR = "accepted", "refused", "unclear"
AUTH_KINDS = ("bearer", "basic", "jwt", "header")
_COMMAND_KEYS = {"type", "argv", "timeout", "settle"}
_HTTP_KEYS = {"type", "url", "method", "auth", "username", "header", "claims", "kid", "refused", "timeout", "settle"}
#: Seconds between two tries of the new value while a check settles.
SETTLE_POLL = 0.5


@dataclass(frozen=True)
class Checked:
    """One check of one value: the verdict, a value-free ``detail``, the (redacted) output."""

    verdict: str
    detail: str
    output: str = ""


class Proof(ABC):
    """A check that a value is (or is not) accepted where it is used."""

    label: str
    #: Seconds to keep retrying the new value until it is accepted (a consumer still restarting); 0: one try.
    settle: int = 0

    @abstractmethod
    def check(self, secret: str, value: Secret, hidden: Sequence[Secret]) -> Checked:
        """Try ``value``; ``hidden`` are the values the output is redacted of (``value`` among them)."""


class CommandProof(Proof):
    """The value on stdin; exit 0 = accepted, non-zero = refused."""

    def __init__(self, argv: Sequence[str], *, timeout: int = 60, settle: int = 0) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.settle = settle
        self.label = f"command {self.argv[0]}"

    def check(self, secret: str, value: Secret, hidden: Sequence[Secret]) -> Checked:
        """Run the command with ``value`` on stdin."""
        try:
            run = run_hook(self.argv, value=value, env={"ROTATION_STEP": "prove", "ROTATION_SECRET_NAME": secret},
                           timeout=self.timeout, what="proof command")
        except TargetError as exc:
            return Checked(UNCLEAR, str(exc))
        verdict = ACCEPTED if run.returncode == 0 else REFUSED
        return Checked(verdict, f"exit {run.returncode}", kept(run.output, hidden))


@dataclass
class HttpProof(Proof):
    """An HTTP request authenticated with the value."""

    url: str
    auth: str
    method: str = "GET"
    username: str = ""
    header: str = ""
    claims: Mapping[str, Any] = field(default_factory=dict)
    kid: bool = False
    refused: tuple[int, ...] = (401, 403)
    timeout: int = 10
    settle: int = 0

    @property
    def label(self) -> str:  # type: ignore[override]
        """How the log names this check."""
        return f"{self.method} {self.url} ({self.auth})"

    def credential(self, value: Secret) -> tuple[str, Secret]:
        """The header name and value that carry ``value``."""
        if self.auth == "bearer":
            return "Authorization", Secret(f"Bearer {value.reveal()}")
        if self.auth == "basic":
            pair = f"{self.username}:{value.reveal()}".encode("utf-8", "surrogateescape")
            return "Authorization", Secret("Basic " + base64.b64encode(pair).decode("ascii"))
        if self.auth == "jwt":
            token = signing_keys.sign_token(self.claims, value, with_kid=self.kid)
            return "Authorization", Secret(f"Bearer {token.reveal()}")
        return self.header, value

    def check(self, secret: str, value: Secret, hidden: Sequence[Secret]) -> Checked:
        """Send the request; 2xx accepted, a ``refused`` status refused, anything else unclear."""
        name, credential = self.credential(value)
        hidden = [*hidden, credential, Secret(credential.reveal().split(" ", 1)[-1])]
        answer = send(self.url, method=self.method, timeout=self.timeout,
                      headers={name: credential.reveal(), "User-Agent": "git-sanitize-proof"})
        if not answer.status:
            return Checked(UNCLEAR, f"unreachable ({answer.error})")
        status, body = answer.status, answer.body
        if 200 <= status < 300:
            verdict = ACCEPTED
        elif status in self.refused:
            verdict = REFUSED
        else:
            verdict = UNCLEAR
        return Checked(verdict, f"HTTP {status}", kept(body, hidden))


@dataclass(frozen=True)
class ProofVerdict:
    """All checks together: ``leaked_rejected`` True (proven), False (still live) or None (``why``)."""

    leaked_rejected: bool | None
    detail: str = ""
    why: str = ""


def _settled(proof: Proof, secret: str, new: Secret, hidden: Sequence[Secret]) -> Checked:
    """The new value's check, retried for up to ``proof.settle`` seconds until it is accepted."""
    deadline = time.monotonic() + proof.settle
    while True:
        result = proof.check(secret, new, hidden)
        if result.verdict == ACCEPTED or time.monotonic() >= deadline:
            return result
        time.sleep(SETTLE_POLL)


def run_proofs(proofs: Sequence[Proof], secret: str, leaked: Secret, new: Secret,
               log: Callable[..., None]) -> ProofVerdict | None:
    """Every check with the new value, then the leaked one; None when no proof is configured."""
    if not proofs:
        return None
    hidden = [leaked, new]
    proven: list[str] = []
    unclear: list[str] = []
    accepted: list[str] = []
    for proof in proofs:
        with_new = _settled(proof, secret, new, hidden)
        log(check=proof.label, value="new", verdict=with_new.verdict, detail=with_new.detail, output=with_new.output)
        with_leaked = proof.check(secret, leaked, hidden)
        log(check=proof.label, value="leaked", verdict=with_leaked.verdict, detail=with_leaked.detail,
            output=with_leaked.output)
        if with_leaked.verdict == ACCEPTED:
            accepted.append(f"{proof.label} accepted the leaked value ({with_leaked.detail})")
        elif with_leaked.verdict == REFUSED and with_new.verdict == ACCEPTED:
            proven.append(f"{proof.label}: leaked {with_leaked.detail}, new {with_new.detail}")
        elif with_leaked.verdict == REFUSED:
            unclear.append(f"{proof.label} refused the new value too ({with_new.detail}), so its refusal of the "
                           f"leaked one ({with_leaked.detail}) proves nothing")
        else:
            unclear.append(f"{proof.label} gave no answer for the leaked value ({with_leaked.detail})")
    if accepted:
        return ProofVerdict(False, detail="; ".join(accepted))
    if unclear:
        return ProofVerdict(None, why="; ".join(unclear), detail="; ".join(proven))
    return ProofVerdict(True, detail="; ".join(proven))


def _timeout(spec: Mapping[str, Any], key: str, default: int) -> int:
    value = spec.get("timeout", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3600:
        raise ConfigError(f"'{key}.timeout' must be an integer number of seconds (1-3600)")
    return value


def _settle(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get("settle", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3600:
        raise ConfigError(f"'{key}.settle' must be an integer number of seconds (0-3600)")
    return value


def _http(spec: Mapping[str, Any], key: str) -> HttpProof:
    url = check_url(spec.get("url"), f"{key}.url")
    auth = spec.get("auth")
    if auth not in AUTH_KINDS:
        raise ConfigError(f"'{key}.auth' must be one of {', '.join(AUTH_KINDS)}")
    method = spec.get("method", "GET")
    if method not in ("GET", "POST", "HEAD", "PUT"):
        raise ConfigError(f"'{key}.method' must be GET, POST, HEAD or PUT")
    username = spec.get("username", "")
    if auth == "basic" and (not isinstance(username, str) or not username or ":" in username):
        raise ConfigError(f"'{key}.username' is required for basic auth (no ':')")
    header = spec.get("header", "")
    if auth == "header" and (not isinstance(header, str) or not header.replace("-", "").isalnum()):
        raise ConfigError(f"'{key}.header' must name the header that carries the value")
    claims = spec.get("claims", {})
    if not isinstance(claims, Mapping) or not all(isinstance(k, str) for k in claims):
        raise ConfigError(f"'{key}.claims' must be a mapping")
    kid = spec.get("kid")
    if kid not in (None, "thumbprint"):
        raise ConfigError(f"'{key}.kid' must be 'thumbprint' (RFC 7638) or absent")
    refused = spec.get("refused", [401, 403])
    if not isinstance(refused, list) or not refused or not all(
            isinstance(c, int) and not isinstance(c, bool) and 400 <= c <= 499 for c in refused):
        raise ConfigError(f"'{key}.refused' must be a list of 4xx status codes")
    return HttpProof(url=url, auth=str(auth), method=str(method), username=str(username), header=str(header),
                     claims=dict(claims), kid=kid == "thumbprint", refused=tuple(refused),
                     timeout=_timeout(spec, key, 10), settle=_settle(spec, key))


def _proof(item: object, key: str) -> Proof:
    if not isinstance(item, Mapping):
        raise ConfigError(f"'{key}' must be a mapping")
    kind = item.get("type")
    allowed = _COMMAND_KEYS if kind == "command" else _HTTP_KEYS
    extra = sorted(str(k) for k in set(item) - allowed)
    if extra:
        raise ConfigError(f"unknown key '{key}.{extra[0]}' (allowed: {', '.join(sorted(allowed))})")
    if kind == "command":
        return CommandProof(argv_of(item.get("argv"), f"{key}.argv"), timeout=_timeout(item, key, 60),
                            settle=_settle(item, key))
    if kind == "http":
        return _http(item, key)
    raise ConfigError(f"'{key}.type' must be command or http")


def parse_proofs(data: object, key: str) -> tuple[Proof, ...]:
    """The ``proofs:`` list of one secret (ConfigError naming the key)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"'{key}' must be a list")
    return tuple(_proof(item, f"{key}[{i}]") for i, item in enumerate(data))
