"""The Secrets Manager rotation Lambda, its four steps driven directly against moto.

moto cannot run a Lambda without Docker, so the test plays Secrets Manager's
part: it enables rotation on the secret and calls ``handler`` once per step
with the same ClientRequestToken, as the service would.
"""

from __future__ import annotations

import json
import logging
import random
import string
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

from rotation.aws_lambda import LambdaSettings, handler, run_step
from rotation.backends.aws import AwsBackend
from rotation.errors import ConfigError, LeakStillValid, RotationError, TargetError
from rotation.generate import GenerateSpec
from rotation.targets.base import LeakProof, Target
from rotation.targets.vault_db import VaultDbTarget
from sanitize.secret import Secret
from tests.plugins.moto_server import MotoServer

RNG = random.Random(4242)


def word(n: int = 32) -> str:
    return "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(n))


def hex_value() -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(128))


SECRETS = {
    "JWT_SECRET": (hex_value, '{"kind": "hex", "bytes": 64}'),
    "ADMIN_PASSWORD": (word, '{"kind": "password", "length": 32}'),
    "DATABASE_URL": (lambda: "postgresql://app:" + word() + "@127.0.0.1:5432/aurora?sslmode=disable", None),
}


@pytest.fixture
def lambda_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    monkeypatch.setenv("AWS_REGION", moto.region)
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", moto.endpoint_url)
    for var in ("ROTATION_GENERATE", "ROTATION_KEY", "ROTATION_TARGET", "ROTATION_MODE"):
        monkeypatch.delenv(var, raising=False)
    return moto


def make_rotating_secret(moto: MotoServer, name: str, value: str) -> str:
    """Create the secret and turn rotation on, as a console user would."""
    client = moto.client()
    client.create_secret(Name=name, SecretString=value)
    client.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    assert client.describe_secret(SecretId=name)["RotationEnabled"] is True
    return name


def labels(moto: MotoServer, sid: str) -> dict[str, list[str]]:
    return moto.client().describe_secret(SecretId=sid)["VersionIdsToStages"]


def holder(moto: MotoServer, sid: str, label: str) -> list[str]:
    return [vid for vid, stages in labels(moto, sid).items() if label in stages]


def value_at(moto: MotoServer, sid: str, **selector: str) -> str:
    return moto.client().get_secret_value(SecretId=sid, **selector)["SecretString"]


def invoke(sid: str, token: str, step: str) -> None:
    handler({"SecretId": sid, "ClientRequestToken": token, "Step": step}, None)


@pytest.mark.services
@pytest.mark.parametrize("name", sorted(SECRETS))
def test_four_steps_rotate_the_secret(
    lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    make_value, spec = SECRETS[name]
    old = make_value()
    sid = make_rotating_secret(lambda_env, f"aurora/{name}", old)
    if spec:
        monkeypatch.setenv("ROTATION_GENERATE", spec)
    old_version = holder(lambda_env, sid, "AWSCURRENT")[0]
    token = str(uuid.uuid4())

    with caplog.at_level(logging.INFO, logger="git_sanitize.rotation.lambda"):
        invoke(sid, token, "createSecret")
        assert holder(lambda_env, sid, "AWSPENDING") == [token]
        new = value_at(lambda_env, sid, VersionId=token, VersionStage="AWSPENDING")
        assert new != old
        assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == old

        invoke(sid, token, "createSecret")  # a retried step changes nothing
        assert value_at(lambda_env, sid, VersionId=token) == new

        invoke(sid, token, "setSecret")
        invoke(sid, token, "testSecret")
        assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == old
        invoke(sid, token, "finishSecret")

    assert holder(lambda_env, sid, "AWSCURRENT") == [token]
    assert holder(lambda_env, sid, "AWSPREVIOUS") == [old_version]
    assert holder(lambda_env, sid, "AWSPENDING") == []
    assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == new

    if name == "JWT_SECRET":
        assert len(new) == 128 and set(new) <= set("0123456789abcdef")
    elif name == "DATABASE_URL":
        before, after = urlsplit(old), urlsplit(new)
        assert (after.scheme, after.username, after.hostname, after.port, after.path, after.query) == (
            before.scheme,
            before.username,
            before.hostname,
            before.port,
            before.path,
            before.query,
        )
        assert after.password != before.password

    # Every step after finish is a no-op on the finished token.
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        invoke(sid, token, step)
    assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == new

    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert [line["step"] for line in lines] == [
        "createSecret",
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert lines[-1]["status"] == "finished"
    assert all(old not in r.getMessage() and new not in r.getMessage() for r in caplog.records)


class Recording(Target):
    """A target that records what the protocol asked of it (values as hashes only)."""

    kind = "recording"

    def __init__(self, *, fail_test: bool = False, leak_alive: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_test = fail_test
        self.leak_alive = leak_alive
        self.accepts: set[str] = set()

    def apply(self, old: Secret, new: Secret) -> None:
        self.calls.append(("apply", new.sha256))
        self.accepts.add(new.sha256)

    def test(self, value: Secret) -> None:
        """Like a database: a credential works once it was applied."""
        self.calls.append(("test", value.sha256))
        if self.fail_test or value.sha256 not in self.accepts:
            raise TargetError("the new credential was refused")

    def revert(self, old: Secret, new: Secret) -> None:
        self.calls.append(("revert", old.sha256))

    def prove_leak_dead(self, leaked: Secret) -> LeakProof | None:
        self.calls.append(("prove", leaked.sha256))
        return LeakProof(leaked_rejected=not self.leak_alive, sessions_terminated=2)


def settings(moto: MotoServer, **kw: object) -> LambdaSettings:
    base: dict[str, object] = {
        "generate": GenerateSpec(kind="password", length=24),
        "key": None,
        "target_spec": None,
        "mode": "scheduled",
        "region": moto.region,
        "endpoint_url": moto.endpoint_url,
    }
    base.update(kw)
    return LambdaSettings(**base)  # type: ignore[arg-type]


def steps(moto: MotoServer, sid: str, token: str, target: Target, **kw: object) -> list[str]:
    backend = AwsBackend(moto.region, endpoint_url=moto.endpoint_url)
    cfg = settings(moto, **kw)
    return [
        run_step(sid, token, s, backend=backend, settings=cfg, target=target)
        for s in ("createSecret", "setSecret", "testSecret", "finishSecret")
    ]


@pytest.mark.services
def test_set_and_test_steps_reach_the_target_with_the_pending_value(lambda_env: MotoServer) -> None:
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", word())
    token = str(uuid.uuid4())
    target = Recording()
    outcomes = steps(lambda_env, sid, token, target)
    new = Secret(value_at(lambda_env, sid, VersionStage="AWSCURRENT"))
    assert outcomes == ["created", "set", "tested", "finished"]
    # setSecret first tries the pending value (already working → done, as AWS's templates do), then sets it.
    assert target.calls == [("test", new.sha256), ("apply", new.sha256), ("test", new.sha256)]


@pytest.mark.services
def test_compromised_mode_drops_previous_and_proves_the_leak_dead(lambda_env: MotoServer) -> None:
    leaked = word()
    sid = make_rotating_secret(lambda_env, "aurora/DATABASE_URL", leaked)
    target = Recording()
    outcomes = steps(lambda_env, sid, str(uuid.uuid4()), target, mode="compromised")
    assert outcomes[-1] == "finished; leaked credential rejected; 2 sessions terminated"
    assert ("prove", Secret(leaked).sha256) in target.calls
    assert holder(lambda_env, sid, "AWSPREVIOUS") == []


@pytest.mark.services
def test_compromised_mode_fails_when_the_leak_still_works(lambda_env: MotoServer) -> None:
    sid = make_rotating_secret(lambda_env, "aurora/DATABASE_URL", word())
    with pytest.raises(LeakStillValid, match="still works"):
        steps(lambda_env, sid, str(uuid.uuid4()), Recording(leak_alive=True), mode="compromised")


@pytest.mark.services
def test_failed_test_step_leaves_current_unchanged(lambda_env: MotoServer) -> None:
    old = word()
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", old)
    with pytest.raises(TargetError) as exc:
        steps(lambda_env, sid, str(uuid.uuid4()), Recording(fail_test=True))
    assert exc.value.step == "testSecret"
    assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == old


@pytest.mark.services
def test_json_key_rotates_only_that_key(lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"JWT_SECRET": hex_value(), "ADMIN_PASSWORD": word()}
    sid = make_rotating_secret(lambda_env, "aurora/app", json.dumps(doc))
    monkeypatch.setenv("ROTATION_KEY", "JWT_SECRET")
    monkeypatch.setenv("ROTATION_GENERATE", '{"kind": "hex", "bytes": 64}')
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        invoke(sid, token, step)
    stored = json.loads(value_at(lambda_env, sid, VersionStage="AWSCURRENT"))
    assert stored["ADMIN_PASSWORD"] == doc["ADMIN_PASSWORD"]
    assert stored["JWT_SECRET"] != doc["JWT_SECRET"] and len(stored["JWT_SECRET"]) == 128


@pytest.mark.services
def test_refuses_when_rotation_is_not_enabled(lambda_env: MotoServer) -> None:
    lambda_env.client().create_secret(Name="aurora/plain", SecretString=word())
    with pytest.raises(RotationError, match="rotation is not enabled for secret 'aurora/plain'"):
        invoke("aurora/plain", str(uuid.uuid4()), "createSecret")


@pytest.mark.services
def test_missing_secret_names_the_step(lambda_env: MotoServer) -> None:
    with pytest.raises(RotationError) as exc:
        invoke("aurora/nope", str(uuid.uuid4()), "createSecret")
    assert exc.value.step == "createSecret"
    assert str(exc.value).startswith("createSecret: AWS Secrets Manager: secret 'aurora/nope' not found")


@pytest.mark.services
def test_refuses_a_token_that_is_not_a_version(lambda_env: MotoServer) -> None:
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", word())
    with pytest.raises(RotationError, match="has no version"):
        invoke(sid, str(uuid.uuid4()), "setSecret")


@pytest.mark.services
def test_refuses_a_version_that_is_not_pending(lambda_env: MotoServer) -> None:
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", word())
    previous = holder(lambda_env, sid, "AWSPREVIOUS")[0]
    with pytest.raises(RotationError, match="not staged AWSPENDING"):
        invoke(sid, previous, "setSecret")


@pytest.mark.services
def test_unknown_step_and_bad_event(lambda_env: MotoServer) -> None:
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", word())
    with pytest.raises(RotationError, match="unknown rotation step 'rotateSecret'"):
        invoke(sid, str(uuid.uuid4()), "rotateSecret")
    with pytest.raises(RotationError, match="missing 'Step'"):
        handler({"SecretId": sid, "ClientRequestToken": str(uuid.uuid4())}, None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROTATION_GENERATE": "{not json"}, "ROTATION_GENERATE is not valid JSON"),
        ({"ROTATION_GENERATE": '{"kind": "emoji"}'}, "generate.kind must be one of"),
        ({"ROTATION_GENERATE": '{"size": 3}'}, "unknown key 'size'"),
        ({"ROTATION_TARGET": "[]"}, "ROTATION_TARGET must be a JSON object"),
        ({"ROTATION_MODE": "lenient"}, "ROTATION_MODE must be one of"),
        ({"AWS_REGION": ""}, "AWS_REGION is not set"),
    ],
)
def test_bad_settings_are_one_config_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LambdaSettings.from_env({"AWS_REGION": "us-east-1", **env})


@pytest.mark.services
def test_lambda_rotates_a_database_password_and_proves_the_leak_dead(
    lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch, pg
) -> None:
    leaked = pg.create_role("aurora_app", word())
    sid = make_rotating_secret(lambda_env, "aurora/DATABASE_URL", leaked)
    monkeypatch.setenv("PG_ADMIN_DSN", pg.admin_dsn)
    monkeypatch.setenv("ROTATION_TARGET", '{"type": "postgres", "admin_dsn_env": "PG_ADMIN_DSN"}')
    monkeypatch.setenv("ROTATION_MODE", "compromised")
    token = str(uuid.uuid4())

    invoke(sid, token, "createSecret")
    pending = value_at(lambda_env, sid, VersionId=token)
    invoke(sid, token, "setSecret")
    with pg.connect(pending) as conn:  # the database accepts the pending value before it is current
        assert conn.execute("SELECT current_user").fetchone() == ("aurora_app",)
    invoke(sid, token, "testSecret")
    invoke(sid, token, "finishSecret")

    assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == pending
    assert holder(lambda_env, sid, "AWSPREVIOUS") == []
    with pytest.raises(psycopg.OperationalError):
        pg.connect(leaked)


@pytest.mark.services
def test_lambda_takes_the_value_from_a_vault_static_role(lambda_env: MotoServer, vault, pg) -> None:
    """A DSN mirrored in Secrets Manager whose password Vault's database engine owns."""
    from tests.test_vault_db import ROLE, setup_static_role

    leaked = setup_static_role(vault, pg)
    sid = make_rotating_secret(lambda_env, "aurora/DATABASE_URL", leaked)
    target = VaultDbTarget(vault.url, Secret(vault.token), role=ROLE, admin_dsn=Secret(pg.admin_dsn))

    outcomes = steps(lambda_env, sid, str(uuid.uuid4()), target, mode="compromised")

    assert outcomes[0] == "issued" and outcomes[-1].startswith("finished; leaked credential rejected")
    current = value_at(lambda_env, sid, VersionStage="AWSCURRENT")
    vault_pw = vault.client.secrets.database.get_static_credentials(name=ROLE, mount_point="database")["data"]
    assert urlsplit(current).password == vault_pw["password"]
    with pg.connect(current) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("aurora_app",)


# -- parity with AWS's rotation templates: the JSON shape, masterarn, strategies, idempotency -------------------------


def rds_doc(pg, user: str, password: str, **extra: object) -> dict[str, object]:
    """The secret as RDS and AWS's rotation templates store it."""
    return {"engine": "postgres", "host": pg.host, "username": user, "password": password, "dbname": "postgres",
            "port": pg.port, **extra}


def login_of(pg, doc: dict) -> str:
    return pg.dsn(str(doc["username"]), str(doc["password"]))


def current_doc(moto: MotoServer, sid: str) -> dict:
    return json.loads(value_at(moto, sid, VersionStage="AWSCURRENT"))


def four_steps(sid: str, token: str | None = None) -> str:
    token = token or str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        invoke(sid, token, step)
    return token


def refused(pg, dsn: str) -> bool:
    try:
        pg.connect(dsn).close()
    except psycopg.OperationalError:
        return True
    return False


@pytest.mark.services
def test_json_secret_single_user_changes_its_own_password(lambda_env: MotoServer, monkeypatch, pg) -> None:
    """No master secret, no ROTATION_TARGET: the engine says postgres, and the user changes its own password."""
    password = word()
    pg.create_role("aurora_app", password)
    doc = rds_doc(pg, "aurora_app", password, dbClusterIdentifier="aurora-1")
    sid = make_rotating_secret(lambda_env, "aurora/rds", json.dumps(doc))
    monkeypatch.setenv("ROTATION_MODE", "compromised")
    token = str(uuid.uuid4())
    invoke(sid, token, "createSecret")
    pending = json.loads(value_at(lambda_env, sid, VersionId=token))
    assert {k: v for k, v in pending.items() if k != "password"} == {k: v for k, v in doc.items() if k != "password"}
    invoke(sid, token, "setSecret")
    invoke(sid, token, "setSecret")  # retried: the pending password already logs in, so nothing changes
    invoke(sid, token, "testSecret")
    invoke(sid, token, "finishSecret")
    now = current_doc(lambda_env, sid)
    assert now == pending and now["password"] != password
    with pg.connect(login_of(pg, now)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("aurora_app",)
    assert refused(pg, login_of(pg, doc))
    assert holder(lambda_env, sid, "AWSPREVIOUS") == []


@pytest.mark.services
def test_master_secret_arn_supplies_the_admin_credential(lambda_env: MotoServer, monkeypatch, pg,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    client = lambda_env.client()
    master = client.create_secret(Name="aurora/master", SecretString=json.dumps(
        rds_doc(pg, pg.admin_user, pg.admin_password)))["ARN"]
    password = word()
    pg.create_role("aurora_app", password)
    doc = rds_doc(pg, "aurora_app", password, masterarn=master)
    sid = make_rotating_secret(lambda_env, "aurora/rds", json.dumps(doc))
    monkeypatch.setenv("ROTATION_MODE", "compromised")
    with caplog.at_level(logging.INFO, logger="git_sanitize.rotation.lambda"):
        four_steps(sid)
    now = current_doc(lambda_env, sid)
    assert now["masterarn"] == master and now["password"] != password
    assert not refused(pg, login_of(pg, now)) and refused(pg, login_of(pg, doc))
    assert not refused(pg, pg.admin_dsn)  # the master's own login is untouched
    finish = json.loads(caplog.records[-1].getMessage())
    assert finish["step"] == "finishSecret" and finish["status"].startswith("finished; leaked credential rejected")
    for record in caplog.records:
        assert password not in record.getMessage() and now["password"] not in record.getMessage()
        assert pg.admin_password not in record.getMessage()


@pytest.mark.services
def test_alternating_users_switch_logins_and_keep_the_previous_one(lambda_env: MotoServer, monkeypatch, pg) -> None:
    client = lambda_env.client()
    master = client.create_secret(Name="aurora/master", SecretString=json.dumps(
        rds_doc(pg, pg.admin_user, pg.admin_password)))["ARN"]
    password = word()
    pg.create_role("aurora_app", password)
    with pg.connect(pg.admin_dsn) as conn:
        conn.execute("CREATE TABLE orders (id int)")
        conn.execute("GRANT SELECT ON orders TO aurora_app")
    doc = rds_doc(pg, "aurora_app", password, masterarn=master)
    sid = make_rotating_secret(lambda_env, "aurora/rds", json.dumps(doc))
    monkeypatch.setenv("ROTATION_STRATEGY", "alternating-users")

    four_steps(sid)
    first = current_doc(lambda_env, sid)
    assert first["username"] == "aurora_app_clone"
    with pg.connect(login_of(pg, first)) as conn:  # created as a member of aurora_app: same privileges
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    assert not refused(pg, login_of(pg, doc))  # the previous login works until the next rotation
    assert json.loads(value_at(lambda_env, sid, VersionStage="AWSPREVIOUS"))["username"] == "aurora_app"

    four_steps(sid)
    second = current_doc(lambda_env, sid)
    assert second["username"] == "aurora_app" and second["password"] != password
    assert not refused(pg, login_of(pg, second)) and not refused(pg, login_of(pg, first))
    assert refused(pg, login_of(pg, doc))  # aurora_app's first password is gone now


def test_alternating_users_is_refused_in_compromised_mode() -> None:
    with pytest.raises(ConfigError, match="use single-user"):
        LambdaSettings.from_env({"AWS_REGION": "us-east-1", "ROTATION_STRATEGY": "alternating-users",
                                 "ROTATION_MODE": "compromised"})
    with pytest.raises(ConfigError, match="ROTATION_STRATEGY must be one of"):
        LambdaSettings.from_env({"AWS_REGION": "us-east-1", "ROTATION_STRATEGY": "both"})


@pytest.mark.services
def test_a_failed_proof_is_not_lost_when_finish_is_retried(lambda_env: MotoServer) -> None:
    """The proof runs before AWSCURRENT moves: a retried finishSecret repeats it, never reports 'already current'."""
    old = word()
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", old)
    backend = AwsBackend(lambda_env.region, endpoint_url=lambda_env.endpoint_url)
    cfg = settings(lambda_env, mode="compromised")
    target = Recording(leak_alive=True)
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret"):
        run_step(sid, token, step, backend=backend, settings=cfg, target=target)
    for _retry in range(2):
        with pytest.raises(LeakStillValid, match=r"finishSecret: .*still works"):
            run_step(sid, token, "finishSecret", backend=backend, settings=cfg, target=target)
        assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == old
        assert holder(lambda_env, sid, "AWSPENDING") == [token]
    target.leak_alive = False  # the operator fixed what kept the old value alive
    assert run_step(sid, token, "finishSecret", backend=backend, settings=cfg, target=target).startswith(
        "finished; leaked credential rejected")


@pytest.mark.services
def test_a_json_secret_without_master_needs_one_for_mysql(lambda_env: MotoServer) -> None:
    doc = {"engine": "mysql", "host": "127.0.0.1", "username": "app", "password": word(), "port": 3306}
    sid = make_rotating_secret(lambda_env, "aurora/mysql", json.dumps(doc))
    with pytest.raises(ConfigError, match="needs a 'masterarn'"):
        invoke(sid, str(uuid.uuid4()), "createSecret")


def test_the_sam_template_names_the_handler_and_its_policy() -> None:
    from importlib.resources import files

    import yaml

    class CfnLoader(yaml.SafeLoader):
        """PyYAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, …)."""

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node)}
        return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]

    CfnLoader.add_multi_constructor("!", tag)
    text = files("sanitize").joinpath("templates/aws/rotation-lambda.yml").read_text()
    doc = yaml.load(text, Loader=CfnLoader)
    assert doc["Transform"] == "AWS::Serverless-2016-10-31"
    fn = next(r for r in doc["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
    assert fn["Properties"]["Handler"] == "rotation.aws_lambda.handler"
    from rotation import aws_lambda

    assert callable(aws_lambda.handler)
    statements = [st for pol in fn["Properties"]["Policies"] if isinstance(pol, dict) and "Statement" in pol
                  for st in pol["Statement"] if "Action" in st]  # not the !If of the optional KMS statement
    actions = {a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage", "secretsmanager:ListSecretVersionIds"} <= actions
    perm = next(r for r in doc["Resources"].values() if r["Type"] == "AWS::Lambda::Permission")
    assert perm["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    env = fn["Properties"]["Environment"]["Variables"]
    assert set(env) >= {"ROTATION_MODE", "ROTATION_STRATEGY"}


@pytest.mark.services
def test_handler_logs_a_failed_proof_and_promotes_nothing(lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    import sys

    old = word()
    sid = make_rotating_secret(lambda_env, "aurora/ADMIN_PASSWORD", old)
    # A hook that accepts every value and says the leaked one still works.
    hook = [sys.executable, "-c", "import os, sys; sys.stdin.read(); sys.exit(os.environ['ROTATION_STEP'] == 'prove')"]
    monkeypatch.setenv("ROTATION_TARGET", json.dumps({"type": "command", "argv": hook, "prove_leak": True}))
    monkeypatch.setenv("ROTATION_MODE", "compromised")
    token = str(uuid.uuid4())
    with caplog.at_level(logging.INFO, logger="git_sanitize.rotation.lambda"):
        for step in ("createSecret", "setSecret", "testSecret"):
            invoke(sid, token, step)
        for _retry in range(2):
            with pytest.raises(LeakStillValid):
                invoke(sid, token, "finishSecret")
    failed = [json.loads(r.getMessage()) for r in caplog.records if '"failed"' in r.getMessage()]
    assert [f["step"] for f in failed] == ["finishSecret", "finishSecret"]
    assert "still works" in failed[0]["error"]
    assert value_at(lambda_env, sid, VersionStage="AWSCURRENT") == old
    assert all(old not in r.getMessage() for r in caplog.records)
