"""The error roots every stage raises; the ``cli`` package maps them to exit codes.

Exit codes (the CLI contract): 0 ok/clean, 1 findings remain or a verification
failed, 2 bad input or usage, 3 waiting for approval.
"""


class SanitizeError(Exception):
    """Base of every error the tool reports as one clear line."""

    exit_code = 2


class UsageError(SanitizeError):
    """Bad input: a path, a file, an option or a state the user must fix."""

    exit_code = 2


class GitError(SanitizeError):
    """A git command failed; the message names the command, never a secret."""

    exit_code = 2


class VerificationFailed(SanitizeError):
    """Something that must be clean is not (findings remain, tips differ)."""

    exit_code = 1


class AwaitingApproval(SanitizeError):
    """The approval gate is closed: not enough valid approvals yet."""

    exit_code = 3
