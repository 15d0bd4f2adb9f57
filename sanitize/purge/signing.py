"""SSH signatures for approvals: the mechanism git uses for SSH-signed commits.

``ssh-keygen -Y sign`` signs the approval's canonical bytes with the approver's
key under our own namespace (a signature made for a commit or an email cannot be
replayed as an approval), and ``-Y find-principals`` / ``-Y verify`` check it
against an ``allowed_signers`` file the security lead keeps: the principal the
key belongs to there is who approved, whatever name the file claims.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sanitize.errors import UsageError

NAMESPACE = "git-sanitize-approval"


def _ssh_keygen() -> str:
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise UsageError("ssh-keygen (OpenSSH) is needed to sign and verify approvals; install openssh-client")
    return exe


def sign(payload: bytes, key: Path) -> str:
    """The armored SSH signature of ``payload`` made with the private ``key`` (or its agent-held twin)."""
    if not key.is_file():
        raise UsageError(f"--key {key}: no such private key file")
    proc = subprocess.run([_ssh_keygen(), "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE], input=payload,
                          capture_output=True, timeout=60, check=False)
    if proc.returncode != 0 or b"BEGIN SSH SIGNATURE" not in proc.stdout:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"--key {key}: could not sign ({reason[-1] if reason else 'ssh-keygen failed'}); "
                         "a passphrase-protected key needs ssh-agent")
    return proc.stdout.decode("ascii", "replace")


def signer(payload: bytes, signature: str, allowed_signers: Path) -> str | None:
    """The principal of ``allowed_signers`` whose key made ``signature`` over ``payload``; None if none did."""
    exe = _ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="git-sanitize-sig-") as tmp:
        sig = Path(tmp) / "approval.sig"
        fd = os.open(sig, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(signature)
        found = subprocess.run([exe, "-Y", "find-principals", "-s", str(sig), "-f", str(allowed_signers)],
                               capture_output=True, timeout=60, check=False)
        if found.returncode != 0:
            return None
        for principal in found.stdout.decode("utf-8", "replace").split():
            checked = subprocess.run([exe, "-Y", "verify", "-f", str(allowed_signers), "-I", principal,
                                      "-n", NAMESPACE, "-s", str(sig)], input=payload, capture_output=True,
                                     timeout=60, check=False)
            if checked.returncode == 0:
                return principal
    return None
