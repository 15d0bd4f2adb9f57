"""``rotate --revoke``: revoke leaked provider tokens through the provider's public API, and prove it.

Only for the kinds in :data:`PROVIDERS` (GitHub, GitLab, Slack); every other provider token keeps its
instruction and link. A credential counts as revoked only when the provider accepted the revoke call AND
a follow-up request with the leaked token was refused (:meth:`Revocation.proven`); a provider that queues
revocations (GitHub) is re-checked for ``revocation.wait_seconds`` and otherwise reported
"revocation requested, not yet proven". The base URLs come from ``revocation.<provider>.api_url`` in
rotation.yml, else the provider's environment variable, else the public API (GitHub Enterprise Server,
self-managed GitLab, and the tests' stand-in on 127.0.0.1 use the first two). No token value is kept: the
answers' bodies are redacted, the audit log gets the token's SHA-256 only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rotation.errors import ConfigError
from rotation.revocation.base import Endpoint, Provider
from rotation.revocation.github import GitHub
from rotation.revocation.gitlab import GitLab
from rotation.revocation.slack import Slack
from rotation.webcall import check_url
from sanitize.audit import AuditLog
from sanitize.secret import Secret

#: Providers with a public revocation API, by the rotation.kinds id they revoke.
PROVIDERS: dict[str, Provider] = {p.kind: p for p in (GitHub(), GitLab(), Slack())}
REVOKE_EVENT = "rotation.revoke"
#: Seconds between follow-up checks while an asynchronous provider works through its queue.
POLL_INTERVAL = 3
DEFAULT_WAIT = 20
_KEYS = {"wait_seconds", *(p.id for p in PROVIDERS.values())}
_PROVIDER_KEYS = {"api_url", "token_env"}


@dataclass(frozen=True)
class RevocationConfig:
    """The ``revocation:`` block: each provider's endpoint, and how long to wait for a queued revocation."""

    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    wait_seconds: int = DEFAULT_WAIT

    def endpoint(self, provider: Provider) -> Endpoint:
        """Where ``provider``'s API is (its public API unless configured)."""
        return self.endpoints.get(provider.id) or Endpoint(api_url=provider.default_api)


def parse_revocation(data: object, env: Mapping[str, str]) -> RevocationConfig:
    """Validate ``revocation:`` (absent: environment variables, then the public APIs)."""
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError("'revocation' must be a mapping")
    block: Mapping[str, Any] = data or {}
    unknown = sorted(str(k) for k in set(block) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown key 'revocation.{unknown[0]!s}' (allowed: {', '.join(sorted(_KEYS))})")
    wait = block.get("wait_seconds", DEFAULT_WAIT)
    if isinstance(wait, bool) or not isinstance(wait, int) or not 0 <= wait <= 3600:
        raise ConfigError("'revocation.wait_seconds' must be an integer from 0 to 3600")
    endpoints: dict[str, Endpoint] = {}
    for provider in PROVIDERS.values():
        key = f"revocation.{provider.id}"
        spec = block.get(provider.id) or {}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"'{key}' must be a mapping")
        extra = sorted(str(k) for k in set(spec) - _PROVIDER_KEYS)
        if extra or ("token_env" in spec and provider.id != "github"):
            name = extra[0] if extra else "token_env"
            raise ConfigError(f"unknown key '{key}.{name}'")
        url = spec.get("api_url") or env.get(provider.env) or provider.default_api
        where = f"{key}.api_url" if spec.get("api_url") else provider.env if env.get(provider.env) else key
        url = check_url(url, where)
        auth = None
        if "token_env" in spec:
            name = spec["token_env"]
            if not isinstance(name, str) or not env.get(name):
                raise ConfigError(f"environment variable {name} ({key}.token_env) is not set")
            auth = Secret(env[name])
        endpoints[provider.id] = Endpoint(api_url=url.rstrip("/"), auth=auth)
    return RevocationConfig(endpoints=endpoints, wait_seconds=wait)


@dataclass(frozen=True)
class Candidate:
    """A credential ``--revoke`` would revoke, as the confirmation names it (no value: a 4-character preview)."""

    name: str
    kind_label: str
    provider: str
    preview: str
    api_url: str
    sha256: str
    #: A token found only in the history (no store holds it): the first path it was found in.
    found_in: str = ""

    def describe(self) -> str:
        """One line for the prompt and the log (names come from a config or a repository's paths: no control
        characters pass)."""
        where = f", found in the history at {self.found_in}" if self.found_in else ""
        text = f"{self.name} ({self.preview}, {self.kind_label}{where}) at {self.provider} ({self.api_url})"
        return "".join(ch if ch.isprintable() else "?" for ch in text)


#: Given the candidates, the names the operator confirmed.
ConfirmFn = Callable[[list[Candidate]], set[str]]


def candidate(name: str, kind_id: str, kind_label: str, value: Secret, config: RevocationConfig,
              found_in: str = "") -> Candidate | None:
    """The credential as ``--revoke`` would revoke it, or None when its kind has no revocation API here."""
    provider = PROVIDERS.get(kind_id)
    if provider is None:
        return None
    return Candidate(name=name, kind_label=kind_label, provider=provider.label, preview=value.preview,
                     api_url=config.endpoint(provider).api_url, sha256=value.sha256, found_in=found_in)


@dataclass(frozen=True)
class Revocation:
    """One revocation: what the provider answered to the call, and to the leaked token afterwards."""

    provider: str
    label: str
    accepted: bool
    refused: bool | None
    call: str
    check: str
    waited: int = 0

    @property
    def proven(self) -> bool:
        """Revoked at the provider: the call was accepted and the leaked token is refused now."""
        return self.accepted and self.refused is True

    def summary(self) -> str:
        """The proof when proven, else why not (every body in it is redacted)."""
        p = PROVIDERS_BY_ID[self.provider]
        if self.proven:
            return (f"revoked at {self.label}: {p.revoke_call} answered {self.call}, then {p.check_call} with "
                    f"the leaked token answered {self.check}")
        if not self.accepted:
            after = {True: "refused it (it may have been revoked already; if you did, mark it done with --ack)",
                     False: "still accepts it", None: "gave no clear answer"}[self.refused]
            return (f"{self.label} did not accept {p.revoke_call} ({self.call}); {p.check_call} with the leaked "
                    f"token {after} ({self.check})")
        waited = f" after {self.waited}s" if self.waited else ""
        if self.refused is None:
            return (f"revocation requested, not yet proven: {self.label} accepted {p.revoke_call} ({self.call}), "
                    f"but {p.check_call} gave no answer that shows the token refused{waited} ({self.check})")
        if p.asynchronous:
            return (f"revocation requested, not yet proven: {self.label} accepted {p.revoke_call} ({self.call}) "
                    f"and queues revocations, but {p.check_call} still accepted the leaked token{waited} "
                    f"({self.check}); re-run with --revoke to check again")
        return (f"{self.label} accepted {p.revoke_call} ({self.call}) but {p.check_call} still accepts the leaked "
                f"token ({self.check}): not revoked")


PROVIDERS_BY_ID: dict[str, Provider] = {p.id: p for p in PROVIDERS.values()}


def revoke_one(kind_id: str, token: Secret, config: RevocationConfig, *,
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
               ) -> Revocation:
    """Revoke ``token`` at its provider, then check it with the provider (re-checked while a queue may
    still be working, up to ``config.wait_seconds``)."""
    provider = PROVIDERS[kind_id]
    endpoint = config.endpoint(provider)
    call = provider.revoke(endpoint, token)
    check = provider.check(endpoint, token)
    start = clock()
    while call.accepted and check.refused is not True and provider.asynchronous \
            and clock() - start + POLL_INTERVAL <= config.wait_seconds:
        sleep(POLL_INTERVAL)
        check = provider.check(endpoint, token)
    return Revocation(provider=provider.id, label=provider.label, accepted=call.accepted, refused=check.refused,
                      call=call.detail, check=check.detail, waited=int(clock() - start))


@dataclass(frozen=True)
class ProvenRevocation:
    """A revocation a run proved (read back from the audit log): how, and when."""

    proof: str
    ts: str


def earlier_revocations(audit: AuditLog) -> dict[str, ProvenRevocation]:
    """Token hashes that earlier runs proved revoked at their provider, with when and how."""
    out: dict[str, ProvenRevocation] = {}
    for record in audit.records():
        if record.get("event") == REVOKE_EVENT and record.get("proven") is True and record.get("token_sha256"):
            proof = str(record.get("proof", "revoked at the provider"))
            out[str(record["token_sha256"])] = ProvenRevocation(proof=proof, ts=str(record.get("ts", "?")))
    return out
