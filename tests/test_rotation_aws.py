"""AWS Secrets Manager backend against a real moto server: the staging-label protocol.

Values are generated at run time (never literal): a hex JWT secret, an admin
password and a PostgreSQL DSN, the three secrets of the DESIGN.md story.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from botocore.exceptions import ClientError

from demo.services import free_port
from rotation.backends.aws import AwsBackend
from rotation.backends.base import SecretRef
from rotation.config import load_config
from rotation.engine import rotate
from rotation.errors import BackendError, ConflictError, TargetError
from rotation.generate import GenerateSpec
from rotation.protocol import StepOutcome, rotate_secret
from rotation.targets.postgres import PostgresTarget
from sanitize.secret import Secret
from tests.plugins.moto_server import MotoServer

RNG = random.Random(5150)


def hex_secret() -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(128))


def password() -> str:
    return "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(32))


def dsn() -> str:
    return "postgresql://app:" + password() + "@127.0.0.1:5432/aurora"


MAKERS = {"JWT_SECRET": hex_secret, "ADMIN_PASSWORD": password, "DATABASE_URL": dsn}


@pytest.fixture
def backend(moto: MotoServer) -> AwsBackend:
    return AwsBackend(moto.region, endpoint_url=moto.endpoint_url)


def stages(moto: MotoServer, secret_id: str) -> dict[str, list[str]]:
    return moto.client().describe_secret(SecretId=secret_id)["VersionIdsToStages"]


def labelled(moto: MotoServer, secret_id: str, label: str) -> list[str]:
    return [vid for vid, labels in stages(moto, secret_id).items() if label in labels]


def token() -> str:
    return str(uuid.uuid4())


@pytest.mark.services
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_rotation_moves_pending_to_current_and_old_to_previous(
    moto: MotoServer, backend: AwsBackend, name: str
) -> None:
    old, new = MAKERS[name](), MAKERS[name]()
    sid = f"aurora/{name}"
    moto.client().create_secret(Name=sid, SecretString=old)
    ref = SecretRef(name=name, secret_id=sid)

    current = backend.read_current(ref)
    assert current.value == Secret(old)
    assert isinstance(current.updated, datetime)

    tok = token()
    backend.stage_pending(ref, Secret(new), tok)
    assert labelled(moto, sid, "AWSPENDING") == [tok]
    assert labelled(moto, sid, "AWSCURRENT") == [current.version]
    assert backend.read_current(ref).value == Secret(old), "staging must not change what consumers read"
    assert backend.read_pending(ref, tok) == Secret(new)

    assert backend.promote(ref, tok, current.version, keep_previous=True) == tok
    assert labelled(moto, sid, "AWSCURRENT") == [tok]
    assert labelled(moto, sid, "AWSPREVIOUS") == [current.version]
    assert labelled(moto, sid, "AWSPENDING") == []
    after = backend.read_current(ref)
    assert (after.value, after.version) == (Secret(new), tok)
    prev = moto.client().get_secret_value(SecretId=sid, VersionStage="AWSPREVIOUS")
    assert prev["SecretString"] == old


@pytest.mark.services
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_compromised_promote_leaves_no_previous_to_fall_back_to(
    moto: MotoServer, backend: AwsBackend, name: str
) -> None:
    sid = f"aurora/{name}"
    moto.client().create_secret(Name=sid, SecretString=MAKERS[name]())
    ref = SecretRef(name=name, secret_id=sid)
    # A scheduled rotation first, so an older AWSPREVIOUS exists too.
    first = backend.read_current(ref).version
    tok1 = token()
    backend.stage_pending(ref, Secret(MAKERS[name]()), tok1)
    backend.promote(ref, tok1, first, keep_previous=True)
    leaked = backend.read_current(ref)

    tok2 = token()
    fresh = MAKERS[name]()
    backend.stage_pending(ref, Secret(fresh), tok2)
    backend.promote(ref, tok2, leaked.version, keep_previous=False)

    assert labelled(moto, sid, "AWSCURRENT") == [tok2]
    assert labelled(moto, sid, "AWSPREVIOUS") == []
    assert labelled(moto, sid, "AWSPENDING") == []
    assert backend.previous_version(ref) is None
    with pytest.raises(ClientError):
        moto.client().get_secret_value(SecretId=sid, VersionStage="AWSPREVIOUS")
    assert backend.read_current(ref).value == Secret(fresh)


@pytest.mark.services
def test_stage_pending_is_idempotent_per_client_request_token(moto: MotoServer, backend: AwsBackend) -> None:
    sid = "aurora/ADMIN_PASSWORD"
    moto.client().create_secret(Name=sid, SecretString=password())
    ref = SecretRef(name="ADMIN_PASSWORD", secret_id=sid)
    tok, value = token(), password()

    backend.stage_pending(ref, Secret(value), tok)
    backend.stage_pending(ref, Secret(value), tok)  # a retried step: no-op
    assert len(stages(moto, sid)) == 2

    other = password()
    with pytest.raises(ConflictError) as exc:
        backend.stage_pending(ref, Secret(other), tok)
    assert other not in str(exc.value) and value not in str(exc.value)
    assert backend.read_pending(ref, tok) == Secret(value), "moto would have overwritten it; we must refuse first"


@pytest.mark.services
def test_promote_refuses_when_a_concurrent_writer_changed_current(moto: MotoServer, backend: AwsBackend) -> None:
    sid = "aurora/JWT_SECRET"
    client = moto.client()
    client.create_secret(Name=sid, SecretString=hex_secret())
    ref = SecretRef(name="JWT_SECRET", secret_id=sid)
    before = backend.read_current(ref)
    tok = token()
    backend.stage_pending(ref, Secret(hex_secret()), tok)

    theirs = hex_secret()
    client.put_secret_value(SecretId=sid, SecretString=theirs)  # someone else rotates meanwhile

    with pytest.raises(ConflictError, match="changed during rotation"):
        backend.promote(ref, tok, before.version, keep_previous=True)
    assert backend.read_current(ref).value == Secret(theirs), "the concurrent write must not be overwritten"

    backend.discard_pending(ref, tok)
    assert tok not in labelled(moto, sid, "AWSPENDING")


@pytest.mark.services
def test_promote_again_after_success_is_a_no_op(moto: MotoServer, backend: AwsBackend) -> None:
    sid = "aurora/ADMIN_PASSWORD"
    moto.client().create_secret(Name=sid, SecretString=password())
    ref = SecretRef(name="ADMIN_PASSWORD", secret_id=sid)
    before = backend.read_current(ref).version
    tok = token()
    backend.stage_pending(ref, Secret(password()), tok)
    backend.promote(ref, tok, before, keep_previous=True)
    # A crash after the move, then the run resumes: same result, no error.
    assert backend.promote(ref, tok, before, keep_previous=False) == tok
    assert labelled(moto, sid, "AWSCURRENT") == [tok]
    assert labelled(moto, sid, "AWSPREVIOUS") == []


@pytest.mark.services
def test_discard_pending_leaves_current_untouched(moto: MotoServer, backend: AwsBackend) -> None:
    sid = "aurora/DATABASE_URL"
    old = dsn()
    moto.client().create_secret(Name=sid, SecretString=old)
    ref = SecretRef(name="DATABASE_URL", secret_id=sid)
    before = backend.read_current(ref)
    tok = token()
    backend.stage_pending(ref, Secret(dsn()), tok)

    backend.discard_pending(ref, tok)
    backend.discard_pending(ref, tok)  # rollback twice is harmless

    assert labelled(moto, sid, "AWSPENDING") == []
    after = backend.read_current(ref)
    assert (after.value, after.version) == (Secret(old), before.version)


@pytest.mark.services
def test_json_secret_rotates_one_key_and_keeps_the_others(moto: MotoServer, backend: AwsBackend) -> None:
    sid = "aurora/app"
    doc = {"JWT_SECRET": hex_secret(), "ADMIN_PASSWORD": password(), "region": "eu-west-3"}
    moto.client().create_secret(Name=sid, SecretString=json.dumps(doc))
    ref = SecretRef(name="JWT_SECRET", secret_id=sid, key="JWT_SECRET")

    before = backend.read_current(ref)
    assert before.value == Secret(doc["JWT_SECRET"])
    tok, new = token(), hex_secret()
    backend.stage_pending(ref, Secret(new), tok)
    backend.stage_pending(ref, Secret(new), tok)  # idempotent with a key too
    assert backend.read_pending(ref, tok) == Secret(new)
    backend.promote(ref, tok, before.version, keep_previous=False)

    stored = json.loads(moto.client().get_secret_value(SecretId=sid, VersionStage="AWSCURRENT")["SecretString"])
    assert stored == {**doc, "JWT_SECRET": new}
    admin = SecretRef(name="ADMIN_PASSWORD", secret_id=sid, key="ADMIN_PASSWORD")
    assert backend.read_current(admin).value == Secret(doc["ADMIN_PASSWORD"])


@pytest.mark.services
def test_key_of_a_non_json_secret_is_one_line_without_the_value(moto: MotoServer, backend: AwsBackend) -> None:
    value = password()
    moto.client().create_secret(Name="plain", SecretString=value)
    with pytest.raises(BackendError) as exc:
        backend.read_current(SecretRef(name="P", secret_id="plain", key="password"))
    message = str(exc.value)
    assert "not a JSON object" in message and value not in message and "\n" not in message


@pytest.mark.services
def test_last_rotated_is_when_current_was_written(moto: MotoServer, backend: AwsBackend) -> None:
    moto.client().create_secret(Name="aurora/JWT_SECRET", SecretString=hex_secret())
    ref = SecretRef(name="JWT_SECRET", secret_id="aurora/JWT_SECRET")
    when = backend.last_rotated(ref)
    assert when is not None
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=5)


@pytest.mark.services
def test_missing_secret_is_one_clear_line(backend: AwsBackend) -> None:
    with pytest.raises(BackendError) as exc:
        backend.read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/nope"))
    assert str(exc.value) == f"AWS Secrets Manager: secret 'aurora/nope' not found ({backend.endpoint_url})"
    assert exc.value.exit_code == 2  # a typo in the config: bad input, not a failed rotation


@pytest.mark.services
def test_unreachable_endpoint_is_one_clear_line(moto: MotoServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    backend = AwsBackend("us-east-1", endpoint_url=dead)
    with pytest.raises(BackendError) as exc:
        backend.read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/app"))
    message = str(exc.value)
    assert message.startswith("AWS Secrets Manager: cannot reach http://127.0.0.1:") and "\n" not in message
    assert exc.value.exit_code == 2, "an unreachable store is a setup problem, like an unreachable Vault"


@pytest.mark.services
@pytest.mark.parametrize("region", ["not a region!", "nowhere-1"])
def test_bad_region_is_one_clear_line(moto: MotoServer, region: str) -> None:
    with pytest.raises(BackendError) as exc:
        AwsBackend(region).read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/app"))
    message = str(exc.value)
    assert region in message and "\n" not in message
    assert exc.value.exit_code == 2


def test_missing_credentials_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    backend = AwsBackend("us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendError, match="no AWS credentials found") as exc:
        backend.read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/app"))
    assert exc.value.exit_code == 2


@pytest.mark.services
def test_promote_of_an_unknown_token_is_refused(moto: MotoServer, backend: AwsBackend) -> None:
    moto.client().create_secret(Name="aurora/x", SecretString=password())
    ref = SecretRef(name="X", secret_id="aurora/x")
    with pytest.raises(BackendError) as exc:
        backend.promote(ref, token(), "not-a-version", keep_previous=True)
    assert "nothing staged" in str(exc.value)


# -- the whole protocol (rotation.protocol / rotation.engine) on Secrets Manager -------------------------------

SPECS = {
    "JWT_SECRET": GenerateSpec(kind="hex", bytes=64),
    "ADMIN_PASSWORD": GenerateSpec(kind="password", length=32),
    "DATABASE_URL": GenerateSpec(kind="password", length=32),
}


@pytest.mark.services
@pytest.mark.parametrize("mode", ["scheduled", "compromised"])
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_protocol_rotates_each_secret_through_the_staging_labels(
    moto: MotoServer, backend: AwsBackend, name: str, mode: str
) -> None:
    old = MAKERS[name]()
    sid = f"aurora/{name}"
    moto.client().create_secret(Name=sid, SecretString=old)
    ref = SecretRef(name=name, secret_id=sid)
    before = backend.read_current(ref).version
    logged: list[StepOutcome] = []

    result = rotate_secret(backend, ref, SPECS[name], None, mode=mode, log=logged.append)

    assert result.old_version == before and result.new_version == result.token
    assert labelled(moto, sid, "AWSCURRENT") == [result.token]
    assert labelled(moto, sid, "AWSPENDING") == []
    assert labelled(moto, sid, "AWSPREVIOUS") == ([before] if mode == "scheduled" else [])
    new = backend.read_current(ref).value.reveal()
    assert new != old
    if name == "DATABASE_URL":
        assert new.split("@", 1)[1] == old.split("@", 1)[1] and new.split(":")[:2] == old.split(":")[:2]
    assert [e.step for e in logged] == ["read", "create", "set", "test", "finish"]
    assert old not in repr(logged) and new not in repr(logged)


@pytest.mark.services
def test_leaked_dsn_rejected_and_new_one_accepted(moto: MotoServer, backend: AwsBackend, pg) -> None:
    leaked = pg.create_role("aurora_app", password())
    moto.client().create_secret(Name="aurora/DATABASE_URL", SecretString=leaked)
    ref = SecretRef(name="DATABASE_URL", secret_id="aurora/DATABASE_URL")
    target = PostgresTarget(Secret(pg.admin_dsn))
    session = pg.connect(leaked)  # opened with the leaked password before the rotation

    try:
        result = rotate_secret(backend, ref, SPECS["DATABASE_URL"], target, mode="compromised")
        assert result.leak is not None and result.leak.leaked_rejected
        assert result.leak.sessions_terminated == 1
    finally:
        session.close()

    new = backend.read_current(ref).value.reveal()
    with pg.connect(new) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("aurora_app",)
    with pytest.raises(psycopg.OperationalError):
        pg.connect(leaked)
    assert labelled(moto, "aurora/DATABASE_URL", "AWSPREVIOUS") == []


@pytest.mark.services
def test_database_down_rolls_back_and_the_store_is_unchanged(moto: MotoServer, backend: AwsBackend, pg) -> None:
    dsn_value = pg.create_role("aurora_app", password())
    sid = "aurora/DATABASE_URL"
    moto.client().create_secret(Name=sid, SecretString=dsn_value)
    ref = SecretRef(name="DATABASE_URL", secret_id=sid)
    before = backend.read_current(ref)
    pg.stop()
    try:
        with pytest.raises(TargetError) as exc:
            rotate_secret(backend, ref, SPECS["DATABASE_URL"], PostgresTarget(Secret(pg.admin_dsn)))
    finally:
        pg.start()
    assert exc.value.step == "set" and "rolled back: store unchanged" in str(exc.value)
    after = backend.read_current(ref)
    assert (after.value, after.version) == (before.value, before.version)
    assert labelled(moto, sid, "AWSPENDING") == []
    with pg.connect(dsn_value) as conn:  # the old credential still works
        assert conn.execute("SELECT 1").fetchone() == (1,)


def write_config(tmp_path, moto: MotoServer, extra: str = "", db_target: str = "") -> str:
    path = tmp_path / "rotation.yml"
    path.write_text(
        f'backend: {{type: aws, region: {moto.region}, endpoint_url: "{moto.endpoint_url}"}}\n'
        f"audit_log: audit.jsonl\n"
        "secrets:\n"
        "  - {name: JWT_SECRET, secret_id: aurora/JWT_SECRET, generate: {kind: hex, bytes: 64}, max_age: 30d}\n"
        "  - {name: ADMIN_PASSWORD, secret_id: aurora/ADMIN_PASSWORD, generate: {kind: password, length: 32},"
        " max_age: 90d}\n"
        "  - {name: DATABASE_URL, secret_id: aurora/app, key: DATABASE_URL, generate: {kind: password, length: 32}"
        + (f", target: {db_target}" if db_target else "") + "}\n"
        + extra
    )
    return str(path)


@pytest.mark.services
def test_engine_rotates_all_three_from_an_aws_config(moto: MotoServer, pg, tmp_path) -> None:
    values = {"JWT_SECRET": hex_secret(), "ADMIN_PASSWORD": password()}
    client = moto.client()
    for name, value in values.items():
        client.create_secret(Name=f"aurora/{name}", SecretString=value)
    # A DSN is rotated where it is checked too (a DSN without a target is refused: see the next test).
    app = {"DATABASE_URL": pg.create_role("aurora_app", password()), "OTHER": "kept"}
    client.create_secret(Name="aurora/app", SecretString=json.dumps(app))
    lines: list[str] = []

    summary = rotate(
        load_config(write_config(tmp_path, moto, db_target="{type: postgres, admin_dsn_env: PG_ADMIN_DSN}"),
                    env={"PG_ADMIN_DSN": pg.admin_dsn}),
        mode="compromised",
        log=lines.append,
        lock_dir=tmp_path / "locks",
    )

    assert sorted(summary.rotated) == ["ADMIN_PASSWORD", "DATABASE_URL", "JWT_SECRET"]
    assert summary.backend == f"aws:{moto.region}:{moto.endpoint_url}"
    for name, value in values.items():
        assert client.get_secret_value(SecretId=f"aurora/{name}", VersionStage="AWSCURRENT")["SecretString"] != value
    stored = json.loads(client.get_secret_value(SecretId="aurora/app", VersionStage="AWSCURRENT")["SecretString"])
    assert stored["OTHER"] == "kept" and stored["DATABASE_URL"] != app["DATABASE_URL"]
    everything = "\n".join(lines) + (tmp_path / "audit.jsonl").read_text()
    for value in [*values.values(), app["DATABASE_URL"], stored["DATABASE_URL"]]:
        assert value not in everything


@pytest.mark.services
def test_engine_leaves_a_dsn_without_target_alone_and_reports_it_still_live(moto: MotoServer, tmp_path) -> None:
    """Rotating a DSN in the store only would hand consumers a password the database refuses."""
    client = moto.client()
    client.create_secret(Name="aurora/JWT_SECRET", SecretString=hex_secret())
    client.create_secret(Name="aurora/ADMIN_PASSWORD", SecretString=password())
    app = json.dumps({"DATABASE_URL": dsn(), "OTHER": "kept"})
    client.create_secret(Name="aurora/app", SecretString=app)

    summary = rotate(load_config(write_config(tmp_path, moto), env={}), mode="compromised",
                     log=lambda _l: None, lock_dir=tmp_path / "locks")

    assert summary.rotated == ["JWT_SECRET", "ADMIN_PASSWORD"] and summary.failed == []
    assert summary.named("not rotated") == ["DATABASE_URL"] and summary.still_live == ["DATABASE_URL"]
    assert summary.exit_code == 1
    out = summary.outcomes[2]
    assert out.kind == "postgres-dsn" and "configuration error" in out.reason
    assert "target: {type: postgres, admin_dsn_env: NAME}" in out.action
    assert client.get_secret_value(SecretId="aurora/app", VersionStage="AWSCURRENT")["SecretString"] == app
    assert summary.states == {"rotated-unproven": ["JWT_SECRET", "ADMIN_PASSWORD"], "still-live": ["DATABASE_URL"]}


@pytest.mark.services
def test_engine_due_uses_the_current_versions_age(moto: MotoServer, tmp_path) -> None:
    client = moto.client()
    client.create_secret(Name="aurora/JWT_SECRET", SecretString=hex_secret())
    client.create_secret(Name="aurora/ADMIN_PASSWORD", SecretString=password())
    client.create_secret(Name="aurora/app", SecretString=json.dumps({"DATABASE_URL": dsn()}))
    config = load_config(write_config(tmp_path, moto), env={})
    later = datetime.now(UTC) + timedelta(days=45)  # JWT_SECRET (30d) is stale, ADMIN_PASSWORD (90d) is fresh

    summary = rotate(config, mode="scheduled", due=True, now=later, log=lambda _l: None, lock_dir=tmp_path / "l")

    assert summary.rotated == ["JWT_SECRET"]
    assert "ADMIN_PASSWORD" in summary.named("not due")
    assert summary.exit_code == 0
    again = rotate(config, mode="scheduled", due=True, log=lambda _l: None, lock_dir=tmp_path / "l")
    assert again.rotated == [], "just rotated: nothing is due any more"
