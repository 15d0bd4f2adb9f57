"""Rotation config, value generation, max_age / due and the per-secret lock (no services)."""

from __future__ import annotations

import json
import multiprocessing
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rotation.config import load_config, parse_config
from rotation.errors import ConfigError
from rotation.generate import (
    URL_SAFE_ALPHABET,
    GenerateSpec,
    dsn_password,
    exposure_hash,
    exposure_hashes,
    generate,
    with_password,
)
from rotation.schedule import Locked, SecretLock, is_due, parse_max_age
from rotation.targets.command import CommandTarget
from rotation.targets.postgres import PostgresTarget
from sanitize.secret import Secret, sha256_hex

ENV = {"VAULT_TOKEN": "t-" + "x" * 8, "PG_ADMIN_DSN": "postgresql://admin:pw@127.0.0.1:5/postgres"}

GOOD = {
    "backend": {"type": "vault", "url": "http://127.0.0.1:8200", "token_env": "VAULT_TOKEN", "mount": "secret"},
    "audit_log": "audit/rotation.log",
    "secrets": [
        {"name": "JWT_SECRET", "path": "aurora/app", "key": "JWT_SECRET", "generate": {"kind": "hex", "bytes": 64},
         "max_age": "30d"},
        {"name": "ADMIN_PASSWORD", "path": "aurora/app", "key": "ADMIN_PASSWORD",
         "generate": {"kind": "password", "length": 32}},
        {"name": "DATABASE_URL", "path": "aurora/db", "key": "DATABASE_URL",
         "generate": {"kind": "password", "length": 32},
         "target": {"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}},
        {"name": "HOOKED", "path": "aurora/hook", "key": "V", "target": {"type": "command", "argv": ["true"]}},
    ],
}


def _with(path: tuple, value: object) -> dict:
    """A deep copy of GOOD with one key replaced (value None: deleted)."""
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    node = doc
    for k in path[:-1]:
        node = node[k]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def test_issue_example_config_parses(tmp_path: Path) -> None:
    p = tmp_path / "rotation.yml"
    p.write_text(yaml.safe_dump(GOOD))
    cfg = load_config(p, env=ENV)
    assert [s.name for s in cfg.secrets] == ["JWT_SECRET", "ADMIN_PASSWORD", "DATABASE_URL", "HOOKED"]
    assert cfg.backend.url == "http://127.0.0.1:8200" and cfg.backend.mount == "secret"
    assert cfg.backend.token is not None and "x" not in repr(cfg.backend)
    jwt = cfg.secret("JWT_SECRET")
    assert jwt.ref.path == "aurora/app" and jwt.ref.key == "JWT_SECRET"
    assert jwt.generate == GenerateSpec(kind="hex", bytes=64) and jwt.max_age == timedelta(days=30)
    assert isinstance(cfg.secret("DATABASE_URL").target, PostgresTarget)
    assert isinstance(cfg.secret("HOOKED").target, CommandTarget)
    assert cfg.secret("ADMIN_PASSWORD").target.kind == "none"
    assert cfg.audit_log == (tmp_path / "audit/rotation.log").resolve()


def test_aws_form_parses() -> None:
    cfg = parse_config({"backend": {"type": "aws", "region": "us-east-1", "endpoint_url": "http://127.0.0.1:5000"},
                        "secrets": [{"name": "JWT_SECRET", "secret_id": "aurora/app/JWT_SECRET",
                                     "generate": {"kind": "hex", "bytes": 32}}]}, env={})
    assert cfg.backend.type == "aws" and cfg.secrets[0].ref.secret_id == "aurora/app/JWT_SECRET"
    assert cfg.backend.identity == "aws:us-east-1:http://127.0.0.1:5000"


@pytest.mark.parametrize(("path", "value", "needle"), [
    (("secrets", 0, "colour"), "blue", "secrets[0].colour"),
    (("backend", "tokn_env"), "X", "backend.tokn_env"),
    (("backend", "type"), "consul", "backend.type"),
    (("backend", "token_env"), "NOT_SET_ANYWHERE", "NOT_SET_ANYWHERE"),
    (("backend", "token_env"), "TWO\nLINES", "TWO\\nLINES"),
    (("secrets", 0, "generate", "kind"), "rot13", "secrets[0].generate.kind"),
    (("secrets", 0, "generate", "bytes"), "64", "secrets[0].generate.bytes"),
    (("secrets", 0, "generate", "bytes"), True, "secrets[0].generate.bytes"),
    (("secrets", 0, "max_age"), "30 fortnights", "secrets[0].max_age"),
    (("secrets", 1, "path"), None, "secrets[1].path"),
    (("secrets", 2, "target", "type"), "mongodb", "secrets[2].target.type"),
    (("secrets", 2, "target", "admin_dsn_env"), "NOPE_ENV", "NOPE_ENV"),
    (("secrets", 3, "target", "argv"), "true", "argv"),
    (("secrets",), [], "secrets"),
    (("audit_log",), 7, "audit_log"),
])
def test_bad_config_is_one_config_error_naming_the_key(path: tuple, value: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value), env=ENV)
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert info.value.exit_code == 2


def test_duplicate_names_and_unknown_only_are_config_errors() -> None:
    doc = _with(("secrets", 1, "name"), "JWT_SECRET")
    with pytest.raises(ConfigError, match="duplicate"):
        parse_config(doc, env=ENV)
    with pytest.raises(ConfigError, match="NOPE"):
        parse_config(GOOD, env=ENV).secret("NOPE")


def test_unreadable_or_invalid_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yml", env=ENV)
    bad = tmp_path / "bad.yml"
    bad.write_text("backend: {type: vault\nsecrets: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, env=ENV)


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
_keys = st.sampled_from(["backend", "secrets", "type", "vault", "aws", "url", "token_env", "mount", "name", "path",
                         "key", "secret_id", "generate", "kind", "bytes", "length", "max_age", "target", "argv",
                         "postgres", "command", "admin_dsn_env", "region", "audit_log", "x"]) | st.text(max_size=5)
_docs = st.recursive(_scalars | _keys, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_keys, inner, max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_docs)
def test_any_document_is_a_config_or_one_config_error(doc: object) -> None:
    try:
        parse_config(doc, env=ENV)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({
    "backend": st.sampled_from([GOOD["backend"], {"type": "aws", "region": "eu-west-1"}, {"type": "vault"}]),
    "secrets": st.lists(st.dictionaries(_keys, _scalars | _docs, max_size=6), min_size=1, max_size=3),
}))
def test_near_valid_documents_never_raise_anything_else(doc: dict) -> None:
    try:
        parse_config(doc, env=ENV)
    except ConfigError:
        pass


# --- generate -----------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "check"), [
    (GenerateSpec(kind="hex", bytes=64), lambda v: len(v) == 128 and set(v) <= set(string.hexdigits.lower())),
    (GenerateSpec(kind="password", length=32), lambda v: len(v) == 32),
    (GenerateSpec(kind="alphanumeric", length=20), lambda v: len(v) == 20 and v.isalnum()),
    (GenerateSpec(kind="base64url", bytes=30), lambda v: len(v) == 40 and set(v) <= set(URL_SAFE_ALPHABET)),
    (GenerateSpec(kind="password", length=16, alphabet="abcdefghij"), lambda v: set(v) <= set("abcdefghij")),
])
def test_generated_values_have_the_requested_shape_and_differ(spec: GenerateSpec, check) -> None:
    values = {generate(spec).reveal() for _ in range(20)}
    assert len(values) == 20
    assert all(check(v) for v in values)


def test_dsn_keeps_everything_but_its_password() -> None:
    old = "postgresql://app_user:" + "old%2Fpw" + "@db.internal:6432/aurora?sslmode=require&application_name=web"
    new = generate(GenerateSpec(kind="password", length=32), Secret(old)).reveal()
    o, n = urlsplit(old), urlsplit(new)
    assert (n.scheme, n.username, n.hostname, n.port, n.path, n.query) == (
        o.scheme, o.username, o.hostname, o.port, o.path, o.query)
    pw = dsn_password(new)
    assert pw is not None and len(pw) == 32 and set(pw) <= set(URL_SAFE_ALPHABET)
    assert dsn_password(old) == "old/pw"


def test_dsn_password_with_special_characters_is_percent_encoded() -> None:
    dsn = with_password("postgresql://u:x@h/db", "p@ss:w/rd?#")
    assert dsn_password(dsn) == "p@ss:w/rd?#" and urlsplit(dsn).hostname == "h"


def test_a_json_value_is_exposed_by_any_of_its_string_members() -> None:
    """An AWS key pair stored as one JSON value: the scan reports its key id and its secret apart."""
    rng = random.Random(4242)
    key_id = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    secret = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
    value = Secret(json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret, "n": 3}))
    hashes = exposure_hashes(value)
    assert {sha256_hex(key_id), sha256_hex(secret), value.sha256} <= hashes
    assert exposure_hashes(Secret("not json {")) == {Secret("not json {").sha256}
    assert exposure_hashes(Secret("postgresql://u:pw@h/db")) == {sha256_hex("postgresql://u:pw@h/db"), sha256_hex("pw")}


def test_exposure_hash_of_a_dsn_is_the_hash_of_its_password() -> None:
    assert exposure_hash(Secret("postgresql://u:s3cr%40t@h/db")) == sha256_hex("s3cr@t")
    assert exposure_hash(Secret("plain-value")) == sha256_hex("plain-value")


# --- schedule -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600),
                                               ("45s", 45), (3600, 3600)])
def test_max_age_parsing(text: object, seconds: int) -> None:
    assert parse_max_age(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "d30", "-1d", "0d", "1y", True, 1.5, None, "30 d ago"])
def test_bad_max_age(text: object) -> None:
    with pytest.raises(ConfigError):
        parse_max_age(text)


def test_is_due() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert is_due(now - timedelta(days=31), timedelta(days=30), now)
    assert not is_due(now - timedelta(days=29), timedelta(days=30), now)
    assert not is_due(now - timedelta(days=400), None, now)
    assert is_due(None, timedelta(days=1), now)


def _try_lock(lock_dir: str, queue) -> None:  # runs in another process
    try:
        with SecretLock(Path(lock_dir), "vault:x", "JWT_SECRET"):
            queue.put("acquired")
    except Locked:
        queue.put("locked")


def test_lock_is_exclusive_across_processes_and_per_secret(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with SecretLock(tmp_path, "vault:x", "JWT_SECRET"):
        p = ctx.Process(target=_try_lock, args=(str(tmp_path), queue))
        p.start()
        p.join(30)
        assert queue.get(timeout=5) == "locked"
        with SecretLock(tmp_path, "vault:x", "ADMIN_PASSWORD"), SecretLock(tmp_path, "vault:y", "JWT_SECRET"):
            pass  # other secret / other backend: independent locks
    p = ctx.Process(target=_try_lock, args=(str(tmp_path), queue))
    p.start()
    p.join(30)
    assert queue.get(timeout=5) == "acquired"


_yaml_bits = st.sampled_from([
    "backend:", "  type: vault", "  type: aws", "  url: http://127.0.0.1:8200", "  region: us-east-1",
    "secrets:", "  - name: A", "    path: a/b", "    key: K", "    generate: {kind: hex, bytes: 64}",
    "    max_age: 30d", "    target: {type: postgres, admin_dsn_env: PG_ADMIN_DSN}", "    target: {type: command}",
    "audit_log: x.log", "lock_dir: 2026-01-01", "- 1", "? [a]", ": b", "!!binary aGk=", "&a *a", "{", "'", "\t",
    "  - !!set {a, b}", "  secret_id: 5",
]) | st.text(max_size=15)


@settings(max_examples=300, deadline=None)
@given(st.lists(_yaml_bits, max_size=12))
def test_any_yaml_file_is_a_config_or_one_config_error(tmp_path_factory, lines: list[str]) -> None:
    p = tmp_path_factory.mktemp("cfg") / "rotation.yml"
    p.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    try:
        load_config(p, env=ENV)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t))
def test_any_password_round_trips_through_a_dsn(password: str) -> None:
    dsn = with_password("postgresql://app:old@db.internal:5432/aurora?sslmode=require", password)
    assert dsn_password(dsn) == password
    parts = urlsplit(dsn)
    assert (parts.hostname, parts.port, parts.path, parts.query) == ("db.internal", 5432, "/aurora", "sslmode=require")


def test_unusable_lock_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="lock_dir"):
        SecretLock(blocker / "locks", "vault:x", "A").acquire()


def test_keyword_dsn_keeps_every_other_parameter() -> None:
    from psycopg.conninfo import conninfo_to_dict

    old = "host=db.internal port=6432 dbname=aurora user=app password='o ld' sslmode=require"
    new = generate(GenerateSpec(kind="password", length=24), Secret(old)).reveal()
    before, after = conninfo_to_dict(old), conninfo_to_dict(new)
    assert after.pop("password") != before.pop("password")
    assert after == before
    assert exposure_hash(Secret(old)) == sha256_hex("o ld")


def test_rotate_refuses_unknown_names_and_modes_before_touching_the_store(tmp_path: Path) -> None:
    from rotation.engine import rotate

    cfg = parse_config(GOOD, env=ENV, base=tmp_path)  # no server at its URL: nothing may be contacted
    with pytest.raises(ConfigError, match="no secret named 'NOPE'"):
        rotate(cfg, only=["JWT_SECRET", "NOPE"], lock_dir=tmp_path)
    with pytest.raises(ConfigError, match="mode must be one of"):
        rotate(cfg, mode="yolo", lock_dir=tmp_path)
    assert not (tmp_path / "audit").exists()


def test_every_registered_target_type_is_reachable_from_the_config() -> None:
    from rotation.targets import TARGETS

    assert {"postgres", "command", "vault_db"} <= set(TARGETS)
    doc = _with(("secrets", 2, "target"), {"type": "vault_db", "role": "aurora_app"})
    assert parse_config(doc, env=ENV).secret("DATABASE_URL").target.kind == "vault_db"
    bad = _with(("secrets", 2, "target"), {"type": "vault_db", "role": "r", "admin_dsn_env": ["not", "a", "name"]})
    with pytest.raises(ConfigError, match=r"secrets\[2\]\.target"):
        parse_config(bad, env=ENV)
