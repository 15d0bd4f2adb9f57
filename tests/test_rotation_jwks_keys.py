"""Asymmetric JWT signing keys (RS256, ES256, EdDSA) in a JWKS, end to end: OpenBao, the real app, PostgreSQL.

The app reads its private signing key (``JWT_PRIVATE_KEY``) from OpenBao and
verifies tokens against a *public* JWKS (a file, or a KV entry of its own).
The ``jwks`` target publishes the new public key before the store makes the
new private key current; scheduled mode keeps the old public key for the
grace window, compromised mode removes it at once. The proof is the app
itself: a token signed with the leaked private key is refused (401) after
rotation, one signed with the new key — and one the app issues — accepted.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from rotation import hs256, signing_keys
from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import ConfigError, RotationError, TargetError
from sanitize.secret import Secret
from tests.plugins.aurora_app import AuroraApp, AuroraDb, set_admin_password
from tests.test_rotation_app import basic, fake, status

pytestmark = pytest.mark.services

ALGS = ["RS256", "ES256", "EdDSA"]


def seeded_key(alg: str, rng: random.Random, fmt: str = "jwk") -> Secret:
    """The leaked key, from the seed (EC and Ed25519); RSA keys cannot be derived from a seed cheaply, so an RSA
    key is generated at run time by ``cryptography`` (never a literal)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if alg == "ES256":
        order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        private: Any = ec.derive_private_key(rng.randrange(1, order), ec.SECP256R1())
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return signing_keys.serialize(private, fmt)


def bearer(key: Secret, *, kid: bool = True) -> dict[str, str]:
    return {"Authorization": f"Bearer {signing_keys.sign_token({'sub': 'admin'}, key, with_kid=kid).reveal()}"}


def kid(key: Secret) -> str:
    loaded = signing_keys.load(key)
    assert loaded is not None
    return loaded.kid


class KeyStory:
    """A private key in OpenBao (``aurora/app`` JWT_PRIVATE_KEY), its public JWKS where the app reads it."""

    def __init__(self, vault: Any, pg: Any, db: AuroraDb, start: Any, tmp: Path, *, alg: str, where: str,
                 fmt: str = "jwk") -> None:
        rng = random.Random(f"jwks-{alg}-{fmt}")
        self.vault, self.tmp, self.alg, self.fmt, self.where = vault, tmp, alg, fmt, where
        self.leaked = seeded_key(alg, rng, fmt)
        self.admin_password = fake(rng, 20)
        set_admin_password(pg, self.admin_password)
        vault.client.secrets.kv.v2.create_or_update_secret(
            path="aurora/app", secret={"JWT_PRIVATE_KEY": self.leaked.reveal()})
        loaded = signing_keys.load(self.leaked)
        assert loaded is not None
        first = json.dumps({"keys": [loaded.public_jwk]})
        self.jwks = tmp / "jwks.json"
        if where == "file":
            self.jwks.write_text(first)
            extra = {"JWKS_FILE": str(self.jwks)}
            self.target: dict[str, Any] = {"type": "jwks", "file": str(self.jwks), "grace": "1d"}
        else:
            vault.client.secrets.kv.v2.create_or_update_secret(path="aurora/jwks", secret={"JWKS": first})
            extra = {"JWKS_KV_PATH": "aurora/jwks"}
            self.target = {"type": "jwks", "store": {"path": "aurora/jwks", "key": "JWKS"}, "grace": "1d"}
        self.app: AuroraApp = start({"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.token,
                                     "APP_KV_PATH": "aurora/app", "APP_DB_DSN": db.app_dsn, **extra})
        self.lines: list[str] = []

    def current(self) -> Secret:
        data = self.vault.client.secrets.kv.v2.read_secret_version(
            path="aurora/app", raise_on_deleted_version=True)["data"]["data"]
        return Secret(data["JWT_PRIVATE_KEY"])

    def published(self) -> list[dict[str, Any]]:
        if self.where == "file":
            return list(json.loads(self.jwks.read_text())["keys"])
        doc = self.vault.client.secrets.kv.v2.read_secret_version(
            path="aurora/jwks", raise_on_deleted_version=True)["data"]["data"]["JWKS"]
        return list(json.loads(doc)["keys"])

    def secret(self, **extra: Any) -> dict[str, Any]:
        return {"name": "JWT_PRIVATE_KEY", "path": "aurora/app", "key": "JWT_PRIVATE_KEY",
                "generate": {"kind": "keypair", "alg": self.alg, "format": self.fmt}, "max_age": "30d",
                "target": self.target, "consumers": [{"type": "webhook", "url": f"{self.app.url}/reload"}], **extra}

    def document(self, **extra: Any) -> dict[str, Any]:
        return {"backend": {"type": "vault", "url": self.vault.url, "token_env": "VAULT_TOKEN"},
                "audit_log": str(self.tmp / "audit.log"), "lock_dir": str(self.tmp / "locks"),
                "secrets": [self.secret(**extra)]}

    def config(self, **extra: Any) -> Any:
        return parse_config(self.document(**extra), env={"VAULT_TOKEN": self.vault.token})

    def cli(self, doc: dict[str, Any], mode: str) -> subprocess.CompletedProcess[str]:
        """``git-sanitize rotate`` as the operator runs it."""
        path = self.tmp / "rotation.yml"
        path.write_text(yaml.safe_dump(doc))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VAULT_TOKEN": self.vault.token,
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        return subprocess.run([sys.executable, "-m", "sanitize.cli", "rotate", "--config", str(path), "--mode", mode],
                              env=env, cwd=self.tmp, capture_output=True, text=True, timeout=240, check=False)

    def me(self, key: Secret, *, with_kid: bool = True) -> int:
        return status(f"{self.app.url}/me", headers=bearer(key, kid=with_kid))[0]

    def app_token_works(self) -> bool:
        """The app signs a token with the private key it loaded from the store; it verifies it with the JWKS."""
        code, body = status(f"{self.app.url}/login", method="POST", headers=basic(self.admin_password))
        assert code == 200
        return status(f"{self.app.url}/me", headers={"Authorization": f"Bearer {body['token']}"})[0] == 200

    def assert_no_private_key_published(self) -> None:
        for jwk in self.published():
            assert not signing_keys.PRIVATE_MEMBERS & set(jwk), sorted(jwk)

    def assert_nothing_printed(self, *texts: str) -> None:
        new = self.current()
        blob = "\n".join([*self.lines, (self.tmp / "audit.log").read_text(), *texts])
        values = [self.leaked.reveal(), new.reveal(), self.admin_password]
        for value in (self.leaked, new):  # every private member, and a token each key signs
            text = value.reveal()
            if text.lstrip().startswith("{"):
                values += [v for k, v in json.loads(text).items() if k in signing_keys.PRIVATE_MEMBERS]
            else:
                values += [line for line in text.splitlines() if line and not line.startswith("-----")]
            values.append(bearer(value)["Authorization"][7:])
        for value in values:
            assert value not in blob


def _proof(s: KeyStory) -> dict[str, Any]:
    return {"type": "http", "url": f"{s.app.url}/me", "auth": "jwt", "claims": {"sub": "admin"}, "kid": "thumbprint"}


@pytest.fixture
def make_story(vault, pg, aurora_db, start_aurora_app, tmp_path: Path) -> Any:
    def make(alg: str, where: str, fmt: str = "jwk") -> KeyStory:
        return KeyStory(vault, pg, aurora_db, start_aurora_app, tmp_path, alg=alg, where=where, fmt=fmt)

    return make


@pytest.mark.parametrize("alg", ALGS)
def test_scheduled_rotation_publishes_the_new_public_key_first_and_keeps_the_old_for_the_grace(
        make_story: Any, alg: str) -> None:
    s: KeyStory = make_story(alg, "file")
    old_kid = kid(s.leaked)
    assert s.me(s.leaked) == 200 and s.app_token_works()
    summary = rotate(s.config(), mode="scheduled", log=s.lines.append)
    new = s.current()
    assert summary.rotated == ["JWT_PRIVATE_KEY"] and new.reveal() != s.leaked.reveal()
    loaded = signing_keys.load(new)
    assert loaded is not None and loaded.alg == alg  # the store holds a new private key of the same algorithm
    assert [k["kid"] for k in s.published()] == [kid(new), old_kid]
    assert [k["alg"] for k in s.published()] == [alg, alg]
    s.assert_no_private_key_published()
    # The grace window: tokens signed with either key verify; the app signs with the new one now.
    assert s.me(s.leaked) == 200 and s.me(new) == 200 and s.app_token_works()
    assert s.me(new, with_kid=False) == 401  # no kid, no key
    steps = [r["step"] for r in map(json.loads, s.lines) if r["secret"] == "JWT_PRIVATE_KEY"]
    assert steps.index("set") < steps.index("finish")  # published before the store made it current
    # After the window a --due run retires the old key; the app reloads and refuses it.
    later = rotate(s.config(), mode="scheduled", due=True, now=datetime.now(UTC) + timedelta(days=2))
    assert later.named("not due") == ["JWT_PRIVATE_KEY"]
    assert [k["kid"] for k in s.published()] == [kid(new)]
    status(f"{s.app.url}/reload", method="POST")
    assert s.me(s.leaked) == 401 and s.me(new) == 200 and s.app_token_works()
    s.assert_nothing_printed(str(summary), str(later))


@pytest.mark.parametrize("alg", ALGS)
def test_compromised_rotation_removes_the_leaked_public_key_at_once_and_the_app_refuses_it(
        make_story: Any, alg: str) -> None:
    s: KeyStory = make_story(alg, "store")
    old_kid = kid(s.leaked)
    assert s.me(s.leaked) == 200
    summary = rotate(s.config(proofs=[_proof(s)]), mode="compromised", log=s.lines.append)
    new = s.current()
    (out,) = summary.outcomes
    assert out.state == "rotated-proven-dead" and summary.exit_code == 0
    assert f"kid {old_kid} is no longer in aurora/jwks" in out.proof
    assert "leaked HTTP 401, new HTTP 200" in out.proof
    assert [k["kid"] for k in s.published()] == [kid(new)]
    s.assert_no_private_key_published()
    # The real app: a token forged with the leaked private key is refused, the new key's accepted.
    assert s.me(s.leaked) == 401 and s.me(new) == 200 and s.app_token_works()
    (retire,) = [r for r in map(json.loads, s.lines) if r["step"] == "retire"]
    assert retire["detail"] == f"old kid {old_kid} removed from aurora/jwks at once"
    checks = [(r["value"], r["verdict"]) for r in map(json.loads, s.lines) if r.get("check")]
    assert checks == [("new", "accepted"), ("leaked", "refused")]
    s.assert_nothing_printed(str(summary), json.dumps(summary.to_dict()))


def test_pem_private_key_rotates_as_pem_with_the_thumbprint_kid(make_story: Any) -> None:
    s: KeyStory = make_story("ES256", "file", fmt="pem")
    summary = rotate(s.config(proofs=[_proof(s)]), mode="compromised", log=s.lines.append)
    new = s.current()
    assert summary.states == {"rotated-proven-dead": ["JWT_PRIVATE_KEY"]}
    assert new.reveal().startswith("-----BEGIN PRIVATE KEY-----")
    assert [k["kid"] for k in s.published()] == [kid(new)] and (s.jwks.stat().st_mode & 0o777) == 0o600
    assert s.me(s.leaked) == 401 and s.me(new) == 200 and s.app_token_works()
    s.assert_no_private_key_published()
    s.assert_nothing_printed(str(summary))


def test_a_non_keypair_generate_never_publishes_a_secret_into_a_public_set(make_story: Any) -> None:
    s: KeyStory = make_story("ES256", "file")
    before = s.jwks.read_text()
    with pytest.raises(RotationError) as info:
        rotate(s.config(generate={"kind": "hex", "bytes": 32}), mode="compromised", log=s.lines.append)
    assert "would expose the new secret" in str(info.value) and "kind: keypair" in str(info.value)
    assert s.jwks.read_text() == before and s.current().reveal() == s.leaked.reveal()
    assert s.me(s.leaked) == 200  # nothing changed: the leak is still to be rotated
    s.assert_nothing_printed(str(info.value))


def test_forged_kid_with_another_key_is_refused_by_the_app(make_story: Any) -> None:
    """The app takes the algorithm and key from the JWKS entry, not from the token."""
    s: KeyStory = make_story("EdDSA", "file")
    attacker = seeded_key("EdDSA", random.Random("attacker"))
    good = bearer(s.leaked)["Authorization"][7:]
    forged = bearer(attacker)["Authorization"][7:]
    spliced = ".".join([good.split(".")[0], *forged.split(".")[1:]])
    assert status(f"{s.app.url}/me", headers={"Authorization": f"Bearer {spliced}"})[0] == 401
    # Algorithm confusion: an HS256 token keyed with the public key, naming the EdDSA key's kid.
    public = s.published()[0]
    hs = hs256.sign({"sub": "admin"}, Secret(public["x"]), kid=public["kid"])
    assert status(f"{s.app.url}/me", headers={"Authorization": f"Bearer {hs.reveal()}"})[0] == 401


@pytest.mark.parametrize(("generate", "message"), [
    ({"kind": "keypair"}, "generate.alg must be one of RS256, ES256, EdDSA"),
    ({"kind": "keypair", "alg": "HS256"}, "generate.alg must be one of RS256, ES256, EdDSA"),
    ({"kind": "keypair", "alg": "ES256", "format": "der"}, "generate.format must be one of jwk, pem"),
    ({"kind": "hex", "alg": "ES256"}, "generate.alg applies to kind keypair only"),
])
def test_keypair_generate_config_errors(generate: dict[str, Any], message: str) -> None:
    doc = {"backend": {"type": "vault", "url": "http://127.0.0.1:1", "token_env": "T"},
           "secrets": [{"name": "K", "path": "a/b", "key": "K", "generate": generate}]}
    with pytest.raises(ConfigError, match=message):
        parse_config(doc, env={"T": "x"})


def test_a_malformed_private_key_is_named_not_quoted() -> None:
    rng = random.Random(77)
    body = fake(rng, 60)  # 45 bytes: larger than the P-256 group order
    value = Secret(json.dumps({"kty": "EC", "crv": "P-256", "d": body, "x": body, "y": body}))
    with pytest.raises(TargetError) as info:
        signing_keys.load(value)
    assert "does not parse" in str(info.value) and body not in str(info.value)



def test_cli_compromised_rotation_of_an_rs256_key_prints_states_and_no_key_material(make_story: Any) -> None:
    s: KeyStory = make_story("RS256", "store")
    proc = s.cli(s.document(proofs=[_proof(s)]), "compromised")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["states"] == {"rotated-proven-dead": ["JWT_PRIVATE_KEY"]}
    assert summary["outcomes"][0]["kind"] == "private-key"
    assert s.me(s.leaked) == 401 and s.me(s.current()) == 200
    s.lines = proc.stdout.splitlines()
    s.assert_nothing_printed(proc.stderr)
