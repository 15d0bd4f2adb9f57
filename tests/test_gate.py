"""The gate and the workdir: signed approvals, one counting rule, an owned and locked workdir."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sanitize.errors import UsageError
from sanitize.purge.approval import ApprovalPolicy, approve, approvers_of, judge
from sanitize.workdir import Workdir, write_private
from tests.plugins.rewritten_workdir import RewrittenWorkdir


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitize.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def _key(tmp: Path, name: str) -> tuple[Path, str]:
    key = tmp / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    kind, blob = key.with_name(name + ".pub").read_text().split()[:2]
    return key, f"{kind} {blob}"


@pytest.fixture
def signers(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(allowed_signers, Dana's key, an outsider's key): only Dana's key is allowed."""
    dana, dana_pub = _key(tmp_path, "dana")
    outsider, _ = _key(tmp_path, "mallory")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"dana@aurora.test {dana_pub}\n")
    return allowed, dana, outsider


def _signed_policy(r: RewrittenWorkdir, allowed: Path) -> ApprovalPolicy:
    policy = ApprovalPolicy(allowed_signers=allowed)
    Workdir.open(r.workdir).set_meta(approval_policy=policy.to_meta())
    return policy


def test_signed_approval_counts_for_its_key_and_push_goes_through(rewritten_workdir: RewrittenWorkdir,
                                                                  signers: tuple[Path, Path, Path]) -> None:
    r = rewritten_workdir
    allowed, dana, _ = signers
    _signed_policy(r, allowed)
    proc = cli("approve", "--workdir", str(r.workdir), "--approver", "Dana Reyes", "--digest", r.digest,
               "--key", str(dana))
    assert proc.returncode == 0, proc.stderr
    assert "(signed)" in proc.stdout and "1 distinct valid approver" in proc.stdout
    file = next((r.workdir / "approvals").glob("*.json"))
    assert "BEGIN SSH SIGNATURE" in json.loads(file.read_text())["signature"]
    push = cli("push", "--workdir", str(r.workdir))
    assert push.returncode == 0, push.stderr
    assert "dana@aurora.test" in push.stdout  # the verified principal, not the typed name


def test_a_key_outside_allowed_signers_is_refused_and_records_nothing(rewritten_workdir: RewrittenWorkdir,
                                                                      signers: tuple[Path, Path, Path]) -> None:
    r = rewritten_workdir
    allowed, _, outsider = signers
    _signed_policy(r, allowed)
    proc = cli("approve", "--workdir", str(r.workdir), "--approver", "Dana Reyes", "--digest", r.digest,
               "--key", str(outsider))
    assert proc.returncode == 2 and "not in" in proc.stderr and "Traceback" not in proc.stderr
    assert not list((r.workdir / "approvals").glob("*.json"))


def test_unsigned_and_tampered_approvals_do_not_count_under_a_signed_policy(
        rewritten_workdir: RewrittenWorkdir, signers: tuple[Path, Path, Path]) -> None:
    r = rewritten_workdir
    allowed, dana, _ = signers
    policy = _signed_policy(r, allowed)
    approve(r.workdir, approver="Eve", digest=r.digest)  # unsigned
    signed = approve(r.workdir, approver="Dana Reyes", digest=r.digest, key=dana)
    assert approvers_of(judge(r.workdir, policy)) == ["dana@aurora.test"]
    # Someone edits the signed file to last a year: the signature no longer covers it.
    file = next(p for p in (r.workdir / "approvals").glob("*.json") if "Dana" in p.name)
    doc = json.loads(file.read_text())
    file.write_text(json.dumps({**doc, "expires": "2099-01-01T00:00:00+00:00"}))
    verdicts = judge(r.workdir, policy)
    assert approvers_of(verdicts) == []
    assert {v.reason for v in verdicts} == {"unsigned", f"signature not made by a key in {allowed}"}
    assert signed.signature and json.loads(file.read_text())["signature"] == signed.signature
    push = cli("push", "--workdir", str(r.workdir))
    assert push.returncode == 3 and "not counted" in push.stderr and "unsigned" in push.stderr


def test_a_hand_written_approval_is_not_counted(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    (r.workdir / "approvals").mkdir(mode=0o700, exist_ok=True)
    forged = {"approver": "nobody forged", "digest": r.digest, "rewritten_tips": r.rewritten_tips,
              "created": "2026-01-01T00:00:00+00:00", "expires": "2099-01-01T00:00:00+00:00"}
    (r.workdir / "approvals" / "forged.json").write_text(json.dumps(forged))
    verdicts = judge(r.workdir, ApprovalPolicy(unsigned=True))
    assert [v.reason for v in verdicts] == ["not recorded by `git-sanitize approve` in audit.log"]
    push = cli("push", "--workdir", str(r.workdir))
    assert push.returncode == 3 and "forged.json" in push.stderr


def test_a_naive_timestamp_is_one_line_everywhere(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    approve(r.workdir, approver="Alice", digest=r.digest)
    file = next((r.workdir / "approvals").glob("*.json"))
    file.write_text(json.dumps({**json.loads(file.read_text()), "expires": "2099-01-01T00:00:00"}))
    for args in (["push", "--workdir", str(r.workdir)], ["status", "--workdir", str(r.workdir)],
                 ["approve", "--workdir", str(r.workdir), "--approver", "Bob", "--digest", r.digest]):
        proc = cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "no time zone" in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_a_digest_prefix_asks_for_the_full_digest(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    proc = cli("approve", "--workdir", str(r.workdir), "--approver", "Alice", "--digest", r.digest[:12])
    assert proc.returncode == 2 and "full 64-character digest" in proc.stderr and "status --workdir" in proc.stderr


def test_push_without_any_policy_says_how_to_choose_one(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    wd = Workdir.open(r.workdir)
    state = json.loads(wd.state_path.read_text())
    state["meta"].pop("approval_policy")
    wd.state_path.write_text(json.dumps(state))
    approve(r.workdir, approver="Alice", digest=r.digest)
    proc = cli("push", "--workdir", str(r.workdir))
    assert proc.returncode == 2 and "--allowed-signers" in proc.stderr and "--allow-unsigned" in proc.stderr
    assert cli("push", "--workdir", str(r.workdir), "--allow-unsigned").returncode == 0


def test_a_locked_workdir_refuses_a_second_command(rewritten_workdir: RewrittenWorkdir) -> None:
    r = rewritten_workdir
    with Workdir.open(r.workdir).exclusive():
        proc = cli("push", "--workdir", str(r.workdir), "--dry-run")
    assert proc.returncode == 2 and "another git-sanitize is working" in proc.stderr
    assert cli("push", "--workdir", str(r.workdir), "--dry-run").returncode == 0


def test_a_workdir_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory owned by another user")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(UsageError, match="belongs to another user"):
        Workdir.create(theirs)
    (theirs / "state.json").write_text("{}")
    with pytest.raises(UsageError, match="belongs to another user"):
        Workdir.open(theirs)


def test_a_symlinked_workdir_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UsageError, match="symlink"):
        Workdir.create(tmp_path / "link")


def test_secret_files_replace_a_planted_symlink_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("theirs\n")
    planted = tmp_path / "plan.secrets"
    planted.symlink_to(victim)
    write_private(planted, b"leaked values\n")
    assert victim.read_text() == "theirs\n"
    assert not planted.is_symlink() and stat.S_IMODE(planted.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_writing_a_report_to_a_device_writes_through_it(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_private(fifo, b"findings\n")
    assert reader.communicate(timeout=10)[0] == b"findings\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a file renamed over it
    write_private(Path(os.devnull), b"x")
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)


def test_state_json_is_private(rewritten_workdir: RewrittenWorkdir) -> None:
    wd = Workdir.open(rewritten_workdir.workdir)
    wd.set_meta(checked=True)
    assert stat.S_IMODE(wd.state_path.stat().st_mode) == 0o600


@pytest.fixture
def full_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 4 MiB tmpfs mounted for the test (root only), filled up by the test itself."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and tmpfs to make a full disk")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_at_approve_is_one_line_and_changes_nothing(rewritten_workdir: RewrittenWorkdir,
                                                                full_disk: Path) -> None:
    import shutil

    r = rewritten_workdir
    wd = full_disk / "wd"
    shutil.copytree(r.workdir, wd, symlinks=True)
    os.chmod(wd, 0o700)
    def files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in wd.iterdir() if p.is_file()}

    before = files()
    with (full_disk / "filler").open("wb") as fh:  # take every block that is left
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    proc = cli("approve", "--workdir", str(wd), "--approver", "Alice", "--digest", r.digest)
    assert proc.returncode == 2, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert files() == before
    assert not (wd / "approvals").exists() or not list((wd / "approvals").iterdir())
