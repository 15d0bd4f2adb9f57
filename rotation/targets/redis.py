"""A Redis user whose password is in a URL DSN: ACL ``SETUSER`` or ``CONFIG SET requirepass``, over redis-py.

``redis://user:pw@host:port/db`` (or ``rediss://`` for TLS): an ACL user gets
``ACL SETUSER user >new <old`` (the new password added and the leaked one
removed in one command, the user's other rules untouched). The default user
(``redis://:pw@…`` or ``redis://default:pw@…``) gets ``CONFIG SET
requirepass new``, which replaces all of its passwords.

Authenticated connections survive a password change: compromised mode runs
``CLIENT KILL USER name`` (skipping our own connection), then proves ``AUTH``
with the leaked password is refused (``WRONGPASS``) and the new one works.

When the admin DSN is the rotated default user itself, the admin connection
follows the password this target set (new after ``apply``, old after
``revert``). Errors carry the user name and redis-py's exception type only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from rotation.errors import TargetError
from rotation.generate import with_password
from rotation.targets import TargetContext, admin_dsn_target
from rotation.targets.base import LeakProof, Target
from sanitize.secret import Secret

SCHEMES = ("redis", "rediss")
DEFAULT_USER = "default"


@dataclass(frozen=True)
class RedisLogin:
    """A Redis URL DSN's user (``default`` when empty) and password; ``url`` keeps every other option."""

    user: str
    password: Secret
    url: Secret


def parse_redis_dsn(value: Secret) -> RedisLogin:
    """Split a ``redis://`` URL DSN; TargetError (without the value) if it is not one."""
    try:
        parts = urlsplit(value.reveal())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise TargetError("redis: the stored value is not a valid URL DSN") from None
    if parts.scheme.lower() not in SCHEMES:
        raise TargetError(f"redis: the stored value is not a redis:// DSN (scheme {parts.scheme or 'none'!r})")
    if parts.password is None:
        raise TargetError("redis: the stored value is not a URL DSN with a password")
    return RedisLogin(user=unquote(parts.username or "") or DEFAULT_USER, password=Secret(unquote(parts.password)),
                      url=value)


def _why(exc: Exception) -> str:
    """A value-free description of a redis-py error."""
    import redis

    if isinstance(exc, redis.AuthenticationError):
        return "authentication refused (WRONGPASS)"
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return "server unreachable"
    if isinstance(exc, redis.ResponseError):
        first = str(exc).split(" ", 1)[0]
        return f"server error {first}" if first.isupper() else "server error"
    return type(exc).__name__


class RedisTarget(Target):
    """Rotates the password of the DSN's Redis user, through an admin connection."""

    kind = "redis"

    def __init__(self, admin_dsn: Secret, *, connect_timeout: int = 5) -> None:
        self.admin = parse_redis_dsn(admin_dsn)
        self.connect_timeout = connect_timeout
        self._admin_password: Secret | None = None  # set when we changed the admin's own password
        self._changed = False

    @classmethod
    def from_config(cls, spec: Mapping[str, Any], ctx: TargetContext) -> RedisTarget:
        """``{type: redis, admin_dsn_env: NAME[, connect_timeout: N]}``; the admin DSN is read from env now."""
        return admin_dsn_target(cls, spec, ctx)

    # -- helpers --------------------------------------------------------------------------

    def _client(self, login: RedisLogin, password: Secret | None = None) -> Any:
        import redis

        url = login.url.reveal() if password is None else with_password(login.url.reveal(), password.reveal())
        try:
            # URL options win over keyword arguments in redis-py, so a changed password goes into the URL.
            return redis.Redis.from_url(url, socket_connect_timeout=self.connect_timeout,
                                        socket_timeout=self.connect_timeout)
        except ValueError:
            raise TargetError("redis: the DSN's options are not valid for redis-py") from None

    def _admin_call(self, what: str, *command: str) -> Any:
        import redis

        client = self._client(self.admin, self._admin_password)
        try:
            return client.execute_command(*command)
        except redis.RedisError as exc:
            raise TargetError(f"redis: {what} failed: {_why(exc)}") from None
        finally:
            client.close()

    def _set_password(self, login: RedisLogin, new: Secret, old: Secret) -> None:
        if login.user == DEFAULT_USER:
            self._admin_call("CONFIG SET requirepass", "CONFIG", "SET", "requirepass", new.reveal())
        else:
            self._admin_call(f"ACL SETUSER {login.user}", "ACL", "SETUSER", login.user,
                             ">" + new.reveal(), "<" + old.reveal())
        self._changed = True
        if self.admin.user == login.user:
            self._admin_password = new  # our own admin login changed with it

    # -- Target ---------------------------------------------------------------------------

    def apply(self, old: Secret, new: Secret) -> None:
        """Give the DSN's user the new password and take the old one away."""
        login, old_login = parse_redis_dsn(new), parse_redis_dsn(old)
        if login.user != old_login.user:
            raise TargetError("redis: the new DSN names another user than the current one")
        self._changed = False
        self._set_password(login, login.password, old_login.password)

    def test(self, value: Secret) -> None:
        """``AUTH`` with the DSN's user and password, then ``PING``."""
        import redis

        login = parse_redis_dsn(value)
        client = self._client(login)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise TargetError(f"redis: AUTH + PING as {login.user} failed: {_why(exc)}") from None
        finally:
            client.close()

    def revert(self, old: Secret, new: Secret) -> None:
        """Give the user its old password back; a no-op when apply never reached the server."""
        if not self._changed:
            return
        old_login, new_login = parse_redis_dsn(old), parse_redis_dsn(new)
        self._set_password(old_login, old_login.password, new_login.password)
        self._changed = False

    def prove_leak_dead(self, leaked: Secret) -> LeakProof:
        """``CLIENT KILL USER`` (sparing our own connection), then ``AUTH`` with the leaked password must fail."""
        import redis

        login = parse_redis_dsn(leaked)
        killed = self._admin_call(f"CLIENT KILL USER {login.user}", "CLIENT", "KILL", "USER", login.user,
                                  "SKIPME", "yes")
        client = self._client(login)
        try:
            client.ping()
        except redis.AuthenticationError:
            rejected = True
        except redis.RedisError as exc:
            raise TargetError(f"redis: could not prove the leaked credential dead: {_why(exc)}") from None
        else:
            rejected = False
        finally:
            client.close()
        detail = "AUTH with the leaked password refused (WRONGPASS)" if rejected else "leaked password still accepted"
        return LeakProof(leaked_rejected=rejected, sessions_terminated=int(killed or 0), detail=detail)
