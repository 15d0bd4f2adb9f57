"""Password hashes an application checks (bcrypt, argon2id), computed and verified on this side.

PostgreSQL's pgcrypto computes bcrypt itself (``crypt(pw, gen_salt('bf'))``),
so the ``sql`` target sends it the password there. No database has an argon2
function, and MariaDB/MySQL have no bcrypt either: for those the hash is
computed here (argon2-cffi, bcrypt) and only the hash is sent to the database.
The hash formats are the PHC string ``$argon2id$v=19$m=…,t=…,p=…$salt$hash``
and ``$2b$cost$…``, which every library of those names verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from rotation.errors import ConfigError
from sanitize.secret import Secret

SCHEMES = ("bcrypt", "argon2id")
#: ``hash: argon2`` means argon2id (RFC 9106's recommended variant).
ALIASES = {"argon2": "argon2id"}


@dataclass(frozen=True)
class HashSpec:
    """Which hash and its cost parameters (bcrypt: ``cost``; argon2id: time, memory in KiB, lanes)."""

    scheme: str = "bcrypt"
    cost: int = 12
    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"'hash' must be one of bcrypt, argon2id (argon2) (got {self.scheme!r})")
        checks = (("cost", self.cost, 4, 31), ("time_cost", self.time_cost, 1, 100),
                  ("memory_cost", self.memory_cost, 8, 4 * 1024 * 1024), ("parallelism", self.parallelism, 1, 64))
        for key, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"'{key}' must be an integer from {low} to {high}")

    def hash(self, password: Secret) -> Secret:
        """A new salted hash of ``password``."""
        if self.scheme == "bcrypt":
            import bcrypt

            return Secret(bcrypt.hashpw(password.reveal().encode("utf-8", "surrogateescape"),
                                        bcrypt.gensalt(self.cost)).decode("ascii"))
        from argon2 import PasswordHasher

        hasher = PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_cost,
                                parallelism=self.parallelism)
        return Secret(hasher.hash(password.reveal()))


def verify(stored: str, password: Secret) -> bool:
    """Whether ``stored`` (a bcrypt or argon2 hash) is a hash of ``password``; False for any other string."""
    if stored.startswith("$argon2"):
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return PasswordHasher().verify(stored, password.reveal())
        except (VerificationError, InvalidHashError):
            return False
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        import bcrypt

        try:
            return bcrypt.checkpw(password.reveal().encode("utf-8", "surrogateescape"), stored.encode("ascii"))
        except ValueError:
            return False
    return False
