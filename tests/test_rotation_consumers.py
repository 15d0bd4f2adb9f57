"""Consumers and proof checks on their own: config validation, the kubectl command form, the webhook's
request, HS256 tokens an independent verifier accepts, and output redaction."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from rotation import hs256
from rotation.config import parse_config
from rotation.consumers import CommandConsumer, WebhookConsumer, parse_consumers
from rotation.errors import ConfigError
from rotation.output import MAX_KEPT, kept, redact
from rotation.proofs import ACCEPTED, REFUSED, UNCLEAR, CommandProof, HttpProof, parse_proofs, run_proofs
from sanitize.secret import Secret


def fake(seed: int, n: int = 32) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def config_with(secret: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    doc = {"backend": {"type": "vault", "url": "http://127.0.0.1:1", "token_env": "T"},
           "secrets": [{"name": "JWT_SECRET", "path": "a/b", **secret}]}
    return parse_config(doc, env={"T": "x", **(env or {})})


@pytest.mark.parametrize(("secret", "message"), [
    ({"consumers": {"type": "command"}}, "'secrets[0].consumers' must be a list"),
    ({"consumers": [{"type": "ssh"}]}, "must be one of command, kubectl, webhook"),
    ({"consumers": [{"type": "command", "argv": "kill -HUP 1"}]}, "argv' must be a non-empty list of strings"),
    ({"consumers": [{"type": "command", "argv": ["x"], "shell": True}]}, "unknown key 'secrets[0].consumers[0].shell'"),
    ({"consumers": [{"type": "kubectl", "resource": "web"}]}, "must be KIND/NAME"),
    ({"consumers": [{"type": "kubectl", "resource": "deployment/web", "namespace": "--all"}]}, "must not start"),
    ({"consumers": [{"type": "webhook", "url": "https://u:p@hooks.example/x"}]}, "without credentials"),
    ({"consumers": [{"type": "webhook", "url": "http://hooks.example/x"}]}, "must use https"),
    ({"proofs": [{"type": "http", "url": "http://app.example/me", "auth": "bearer"}]}, "must use https"),
    ({"consumers": [{"type": "webhook", "url": "https://hooks.example/x", "token_env": "NOPE"}]},
     "environment variable NOPE"),
    ({"proofs": [{"type": "http", "url": "ftp://x/", "auth": "bearer"}]}, "must be an http(s) URL"),
    ({"proofs": [{"type": "http", "url": "https://x/", "auth": "digest"}]}, "auth' must be one of"),
    ({"proofs": [{"type": "http", "url": "https://x/", "auth": "basic"}]}, "username' is required"),
    ({"proofs": [{"type": "http", "url": "https://x/", "auth": "jwt", "kid": "sha1"}]}, "kid' must be 'thumbprint'"),
    ({"proofs": [{"type": "http", "url": "https://x/", "auth": "bearer", "refused": [200]}]}, "4xx status codes"),
    ({"proofs": [{"type": "command", "argv": ["x"], "expect": 1}]}, "unknown key 'secrets[0].proofs[0].expect'"),
    ({"target": {"type": "sql", "admin_dsn_env": "DB", "table": "users", "column": "hash"}},
     "missing required key 'where'"),
    ({"target": {"type": "sql", "admin_dsn_env": "DB", "table": "a.b.c", "column": "h", "where": {"u": "x"}}},
     "NAME or SCHEMA.NAME"),
    ({"target": {"type": "sql", "admin_dsn_env": "DB", "table": "t", "column": "h", "where": {"u": "x"},
                 "hash": "scrypt"}}, "must be bcrypt or argon2id"),
    ({"target": {"type": "sql", "admin_dsn_env": "DB", "table": "t", "column": "h", "where": {"u": "x"},
                 "cost": 40}}, "an integer from 4 to 31"),
    ({"target": {"type": "jwks"}}, "missing required key 'file'"),
    ({"target": {"type": "jwks", "file": "/nonexistent-dir/jwks.json"}}, "does not exist"),
])
def test_bad_consumer_proof_and_target_config_is_one_clear_error(secret: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_with(secret, env={"DB": "postgresql://u:p@127.0.0.1/db"})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_kubectl_consumer_runs_rollout_restart_then_status(tmp_path: Path) -> None:
    fake_kubectl = tmp_path / "kubectl"
    fake_kubectl.write_text(f"#!{sys.executable}\nimport sys\nopen({str(tmp_path / 'calls')!r}, 'a').write("
                            "' '.join(sys.argv[1:]) + '\\n')\nprint('deployment.apps/web restarted')\n")
    fake_kubectl.chmod(0o755)
    (consumer,) = parse_consumers([{"type": "kubectl", "resource": "deployment/web", "namespace": "prod",
                                    "context": "ops", "kubectl": str(fake_kubectl), "timeout": 120}], "c", {})
    answer = consumer.reload("JWT_SECRET", "7", [Secret("irrelevant-value")])
    assert answer.ok and consumer.label == "kubectl rollout restart deployment/web"
    assert (tmp_path / "calls").read_text().splitlines() == [
        "--context ops --namespace prod rollout restart deployment/web",
        "--context ops --namespace prod rollout status deployment/web --timeout=120s"]
    assert "restarted" in answer.output


def test_kubectl_consumer_stops_at_the_first_failure(tmp_path: Path) -> None:
    consumer = CommandConsumer([[sys.executable, "-c", "import sys; print('forbidden'); sys.exit(1)"],
                                [sys.executable, "-c", "raise SystemExit('must not run')"]])
    answer = consumer.reload("S", None, [])
    assert not answer.ok and answer.detail.endswith("exited 1") and answer.output == "forbidden"


class Capture(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []  # noqa: RUF012 - one capture list per test run (reset by the fixture)
    answer = 200

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Capture.seen.append({"auth": self.headers.get("Authorization"), "body": json.loads(body)})
        self.send_response(Capture.answer)
        self.end_headers()
        self.wfile.write(b"reloaded with " + (self.headers.get("Authorization") or "").encode())

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()
            return
        Capture.seen.append({"auth": self.headers.get("Authorization"), "header": self.headers.get("X-Api-Key")})
        if Capture.warmup > 0:  # still restarting
            Capture.warmup -= 1
            self.send_response(503)
            self.end_headers()
            return
        good = Capture.good
        auth = self.headers.get("Authorization") or self.headers.get("X-Api-Key") or ""
        self.send_response(200 if good and good in auth else 401)
        self.end_headers()
        self.wfile.write(b"you sent " + auth.encode())

    good = ""
    warmup = 0


@pytest.fixture
def capture() -> Iterator[str]:
    Capture.seen, Capture.answer, Capture.good, Capture.warmup = [], 200, "", 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_webhook_posts_a_value_free_event_with_its_token(capture: str) -> None:
    token, value = fake(1), fake(2)
    (consumer,) = parse_consumers([{"type": "webhook", "url": f"{capture}/reload", "token_env": "HOOK_TOKEN"}], "c",
                                  {"HOOK_TOKEN": token})
    assert isinstance(consumer, WebhookConsumer)
    answer = consumer.reload("JWT_SECRET", "4", [Secret(value)])
    assert answer.ok and answer.detail == "HTTP 200"
    assert Capture.seen == [{"auth": f"Bearer {token}", "body": {"event": "secret.rotated", "secret": "JWT_SECRET",
                                                                  "version": "4"}}]
    assert token not in answer.output and answer.output == "reloaded with Bearer [redacted]"
    Capture.answer = 503
    failed = consumer.reload("JWT_SECRET", "5", [Secret(value)])
    assert not failed.ok and failed.detail == "HTTP 503"


def test_webhook_unreachable_is_a_failure_not_a_traceback() -> None:
    from demo.services import free_port

    answer = WebhookConsumer(f"http://127.0.0.1:{free_port()}/reload", timeout=2).reload("S", "1", [])
    assert not answer.ok and answer.detail.startswith("webhook unreachable")


@pytest.mark.parametrize("auth", ["bearer", "basic", "header", "jwt"])
def test_http_proof_sends_the_value_the_way_the_app_expects(capture: str, auth: str) -> None:
    new, leaked = fake(3), fake(4)
    proof = HttpProof(url=f"{capture}/me", auth=auth, username="admin", header="X-Api-Key")
    Capture.good = proof.credential(Secret(new))[1].reveal() if auth != "jwt" else "Bearer "
    lines: list[dict[str, Any]] = []
    verdict = run_proofs([proof], "S", Secret(leaked), Secret(new), lambda **d: lines.append(d))
    if auth == "jwt":  # the capture server accepts any bearer: the signature is checked below instead
        assert verdict is not None and verdict.leaked_rejected is False
    else:
        assert verdict is not None and verdict.leaked_rejected is True
        assert [(line["value"], line["verdict"]) for line in lines] == [("new", ACCEPTED), ("leaked", REFUSED)]
    for line in lines:  # the server echoed what it got: kept, redacted
        assert line["output"].startswith("you sent") and new not in line["output"] and leaked not in line["output"]
        assert base64.b64encode(f"admin:{new}".encode()).decode() not in line["output"]


def test_hs256_tokens_verify_with_an_independent_hmac() -> None:
    key = fake(5, 48)
    token = hs256.sign({"sub": "admin"}, Secret(key), kid=hs256.thumbprint(Secret(key))).reveal()
    head, body, sig = token.split(".")
    mac = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).decode().rstrip("=") == sig
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    # RFC 7638: the thumbprint over the required members in lexicographic order, no whitespace.
    k = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    expected = base64.urlsafe_b64encode(hashlib.sha256(f'{{"k":"{k}","kty":"oct"}}'.encode()).digest())
    assert header == {"alg": "HS256", "typ": "JWT", "kid": expected.decode().rstrip("=")}


def test_command_proof_exit_status(tmp_path: Path) -> None:
    new, leaked = fake(6), fake(7)
    check = [sys.executable, "-c", f"import sys; v = sys.stdin.read(); print('got', v); sys.exit(v != {new!r})"]
    (proof,) = parse_proofs([{"type": "command", "argv": check}], "p")
    assert isinstance(proof, CommandProof)
    lines: list[dict[str, Any]] = []
    verdict = run_proofs([proof], "S", Secret(leaked), Secret(new), lambda **d: lines.append(d))
    assert verdict is not None and verdict.leaked_rejected is True
    assert [line["output"] for line in lines] == ["got [redacted]", "got [redacted]"]
    missing = run_proofs([CommandProof(["/nonexistent/check"])], "S", Secret(leaked), Secret(new), lambda **d: None)
    assert missing is not None and missing.leaked_rejected is None and "gave no answer" in missing.why
    assert proof.check("S", Secret(new), []).verdict == ACCEPTED
    assert CommandProof(["/nonexistent/check"]).check("S", Secret(new), []).verdict == UNCLEAR


def test_output_redaction_catches_every_encoding_and_keeps_the_tail() -> None:
    pw = fake(8, 20) + "%/@"
    dsn = f"postgresql://app:{quote(pw, safe='')}@db:5432/app"
    text = " | ".join([pw, quote(pw, safe=""), base64.b64encode(pw.encode()).decode(), json.dumps(pw), dsn])
    out = redact(text, [Secret(dsn)])
    assert pw not in out and quote(pw, safe="") not in out and base64.b64encode(pw.encode()).decode() not in out
    assert "[redacted]" in out
    long = ("x" * 5000 + pw).encode()
    tail = kept(long, [Secret(pw)])
    assert tail.endswith("[redacted]") and len(tail) <= MAX_KEPT + 1
    # A value straddling the cut is redacted before cutting, so no half of it survives.
    straddle = ("y" * (MAX_KEPT - 5) + pw + "z" * 3).encode()
    assert pw[-6:] not in kept(straddle, [Secret(pw)])


def test_http_proof_never_follows_a_redirect_with_the_credential(capture: str) -> None:
    new, leaked = fake(9), fake(10)
    proof = HttpProof(url=f"{capture}/redirect", auth="bearer")
    verdict = run_proofs([proof], "S", Secret(leaked), Secret(new), lambda **d: None)
    assert verdict is not None and verdict.leaked_rejected is None and "HTTP 302" in verdict.why
    assert Capture.seen == []  # /elsewhere never got the credential


@pytest.mark.services
def test_a_failing_command_target_keeps_its_output_redacted(vault, tmp_path: Path) -> None:
    """The hook's stderr used to be discarded; now it is in the failed step's record, without the values."""
    old = fake(11)
    vault.client.secrets.kv.v2.create_or_update_secret(path="svc/api", secret={"TOKEN": old})
    hook = [sys.executable, "-c", "import os, sys; v = sys.stdin.read(); print('read', v); "
            "print('cannot reach the API for', os.environ['ROTATION_STEP'], file=sys.stderr); "
            "sys.exit(4 if os.environ['ROTATION_STEP'] == 'test' else 0)"]
    doc = {"backend": {"type": "vault", "url": vault.url, "token_env": "T"}, "audit_log": str(tmp_path / "audit"),
           "lock_dir": str(tmp_path / "locks"),
           "secrets": [{"name": "API_TOKEN", "path": "svc/api", "key": "TOKEN", "generate": {"kind": "hex"},
                        "target": {"type": "command", "argv": hook}}]}
    from rotation.engine import rotate
    from rotation.errors import RotationError

    lines: list[str] = []
    with pytest.raises(RotationError, match=r"test: command hook .* failed in step test \(exit 4\)"):
        rotate(parse_config(doc, env={"T": vault.token}), mode="compromised", log=lines.append)
    (failed,) = [json.loads(line) for line in lines if json.loads(line)["status"] == "failed"]
    assert failed["step"] == "test" and failed["output"] == "read [redacted]\ncannot reach the API for test"
    assert old not in "\n".join(lines) + (tmp_path / "audit").read_text()


@pytest.mark.parametrize("settle", [0, 30])
def test_settle_retries_the_new_value_while_the_app_restarts(capture: str, settle: int) -> None:
    new, leaked = fake(12), fake(13)
    (proof,) = parse_proofs([{"type": "http", "url": f"{capture}/me", "auth": "bearer", "settle": settle}], "p")
    Capture.good, Capture.warmup = f"Bearer {new}", 2
    verdict = run_proofs([proof], "S", Secret(leaked), Secret(new), lambda **d: None)
    assert verdict is not None
    if settle:
        assert verdict.leaked_rejected is True and len(Capture.seen) == 4  # 503, 503, new 200, leaked 401
    else:
        assert verdict.leaked_rejected is None and "HTTP 503" in verdict.why
