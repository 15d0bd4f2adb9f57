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

import pytest
from botocore.exceptions import ClientError

from rotation.backends.aws import AwsBackend
from rotation.backends.base import SecretRef
from rotation.errors import BackendError, ConflictError
from sanitize.secret import Secret
from tests.plugins.moto_server import MotoServer, free_port

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


@pytest.mark.services
def test_unreachable_endpoint_is_one_clear_line(moto: MotoServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    backend = AwsBackend("us-east-1", endpoint_url=dead)
    with pytest.raises(BackendError) as exc:
        backend.read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/app"))
    message = str(exc.value)
    assert message.startswith("AWS Secrets Manager: cannot reach http://127.0.0.1:") and "\n" not in message


@pytest.mark.services
@pytest.mark.parametrize("region", ["not a region!", "nowhere-1"])
def test_bad_region_is_one_clear_line(moto: MotoServer, region: str) -> None:
    with pytest.raises(BackendError) as exc:
        AwsBackend(region).read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/app"))
    message = str(exc.value)
    assert region in message and "\n" not in message


def test_missing_credentials_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    backend = AwsBackend("us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendError, match="no AWS credentials found"):
        backend.read_current(SecretRef(name="JWT_SECRET", secret_id="aurora/app"))


@pytest.mark.services
def test_promote_of_an_unknown_token_is_refused(moto: MotoServer, backend: AwsBackend) -> None:
    moto.client().create_secret(Name="aurora/x", SecretString=password())
    ref = SecretRef(name="X", secret_id="aurora/x")
    with pytest.raises(BackendError) as exc:
        backend.promote(ref, token(), "not-a-version", keep_previous=True)
    assert "nothing staged" in str(exc.value)
