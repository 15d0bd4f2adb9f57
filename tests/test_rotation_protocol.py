"""The protocol's edges against a real OpenBao: command hooks, leak proof, unexpected errors, late failures."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from rotation.backends.base import SecretRef
from rotation.backends.vault import VaultBackend
from rotation.config import parse_config
from rotation.engine import rotate
from rotation.errors import BackendError, LeakStillValid, RotationError
from rotation.generate import GenerateSpec
from rotation.protocol import rotate_secret
from rotation.targets.base import Target
from sanitize.secret import Secret

pytestmark = pytest.mark.services

HOOK = """
import hashlib, os, sys
value = sys.stdin.read()
step = os.environ["ROTATION_STEP"]
with open(sys.argv[1], "a") as fh:
    fh.write(f"{os.environ['ROTATION_SECRET_NAME']} {step} {hashlib.sha256(value.encode()).hexdigest()}\\n")
sys.exit(int(os.environ.get("FAIL_" + step.upper(), "0")))
"""

OLD = "old-" + "q" * 28


def sha(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()


@pytest.fixture
def seeded(vault):
    vault.client.secrets.kv.v2.create_or_update_secret(path="svc/api", secret={"TOKEN": OLD})
    return vault


def hook_config(vault, tmp: Path, **target: object):
    script = tmp / "hook.py"
    script.write_text(HOOK)
    doc = {"backend": {"type": "vault", "url": vault.url, "mount": "secret"}, "audit_log": str(tmp / "audit.log"),
           "lock_dir": str(tmp / "locks"),
           "secrets": [{"name": "API_TOKEN", "path": "svc/api", "key": "TOKEN", "generate": {"kind": "hex"},
                        "target": {"type": "command", "argv": [sys.executable, str(script), str(tmp / "calls")],
                                   **target}}]}
    return parse_config(doc, env={"VAULT_TOKEN": vault.token})


def calls(tmp: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in (tmp / "calls").read_text().splitlines()]


def current(vault) -> str:
    return vault.client.secrets.kv.v2.read_secret_version(path="svc/api", raise_on_deleted_version=True)[
        "data"]["data"]["TOKEN"]


def test_command_hook_gets_the_new_value_on_stdin(seeded, tmp_path: Path) -> None:
    summary = rotate(hook_config(seeded, tmp_path), mode="scheduled")
    new = current(seeded)
    assert summary.rotated == ["API_TOKEN"] and new != OLD
    assert calls(tmp_path) == [("API_TOKEN", "apply", sha(new)), ("API_TOKEN", "test", sha(new))]


def test_failing_hook_test_reverts_with_the_old_value(seeded, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAIL_TEST", "3")
    with pytest.raises(RotationError) as info:
        rotate(hook_config(seeded, tmp_path))
    assert "test: command hook" in str(info.value) and "(exit 3)" in str(info.value)
    assert current(seeded) == OLD
    steps = [c[1] for c in calls(tmp_path)]
    assert steps == ["apply", "test", "revert"] and calls(tmp_path)[2][2] == sha(OLD)


def test_leak_still_valid_is_a_verification_failure(seeded, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAIL_PROVE", "1")
    with pytest.raises(LeakStillValid) as info:
        rotate(hook_config(seeded, tmp_path, prove_leak=True), mode="compromised")
    assert info.value.exit_code == 1 and "still works" in str(info.value)
    # No rollback after promotion: the new value stays current, the hook was asked about the old one.
    assert current(seeded) != OLD
    assert calls(tmp_path)[-1] == ("API_TOKEN", "prove", sha(OLD))


def test_leak_proof_by_hook(seeded, tmp_path: Path) -> None:
    summary = rotate(hook_config(seeded, tmp_path, prove_leak=True), mode="compromised")
    assert summary.outcomes[0].leaked_rejected is True


class Exploding(Target):
    """A buggy target whose exception text contains the value."""

    kind = "buggy"

    def __init__(self) -> None:
        self.reverted = False

    def apply(self, old: Secret, new: Secret) -> None:
        raise ValueError("cannot use " + new.reveal())

    def test(self, value: Secret) -> None:
        raise AssertionError("unreachable")

    def revert(self, old: Secret, new: Secret) -> None:
        self.reverted = True


def test_unexpected_target_error_rolls_back_without_echoing_it(seeded) -> None:
    backend = VaultBackend(seeded.url, Secret(seeded.token))
    ref = SecretRef(name="API_TOKEN", path="svc/api", key="TOKEN")
    target = Exploding()
    with pytest.raises(RotationError) as info:
        rotate_secret(backend, ref, GenerateSpec(kind="hex"), target, token="t-1")
    assert str(info.value) == "set: unexpected ValueError (rolled back: store unchanged, target reverted)"
    assert target.reverted and current(seeded) == OLD and backend.read_pending(ref, "t-1") is None


class LateFailure(VaultBackend):
    """Promotion succeeds, then something after it fails."""

    def promote(self, ref: SecretRef, token: str, expected_version: str, *, keep_previous: bool) -> str:
        super().promote(ref, token, expected_version, keep_previous=keep_previous)
        raise BackendError("cleanup failed")


def test_failure_after_promotion_does_not_revert_the_target(seeded) -> None:
    backend = LateFailure(seeded.url, Secret(seeded.token))
    ref = SecretRef(name="API_TOKEN", path="svc/api", key="TOKEN")
    target = Exploding()
    target.apply = lambda old, new: None  # type: ignore[method-assign]
    target.test = lambda value: None  # type: ignore[method-assign]
    with pytest.raises(RotationError, match="finish: promoted, but finishing failed: cleanup failed"):
        rotate_secret(backend, ref, GenerateSpec(kind="hex"), target)
    assert not target.reverted and current(seeded) != OLD


class Interrupted(Exploding):
    """The operator hits Ctrl-C while the target is being tested."""

    def apply(self, old: Secret, new: Secret) -> None:
        pass

    def test(self, value: Secret) -> None:
        raise KeyboardInterrupt


def test_interrupt_mid_rotation_rolls_back_then_propagates(seeded) -> None:
    backend = VaultBackend(seeded.url, Secret(seeded.token))
    ref = SecretRef(name="API_TOKEN", path="svc/api", key="TOKEN")
    target = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        rotate_secret(backend, ref, GenerateSpec(kind="hex"), target, token="t-int")
    assert target.reverted and current(seeded) == OLD and backend.read_pending(ref, "t-int") is None
