"""GitLab: a personal access token revokes itself, then ``GET /api/v4/personal_access_tokens/self``.

``DELETE /api/v4/personal_access_tokens/self`` with the token in the ``PRIVATE-TOKEN`` header revokes
that token (GitLab 15.0+) and answers ``204 No Content``; ``400`` means it was not revoked. Afterwards
the same token on ``GET /api/v4/personal_access_tokens/self`` must get ``401``. The base URL is the
instance's root (``https://gitlab.com`` or a self-managed host).
"""

from __future__ import annotations

from rotation.revocation.base import Call, Check, Endpoint, Provider, request, said
from sanitize.secret import Secret

_SELF = "/api/v4/personal_access_tokens/self"


class GitLab(Provider):
    id = "gitlab"
    label = "GitLab"
    kind = "gitlab-token"
    default_api = "https://gitlab.com"
    env = "GIT_SANITIZE_GITLAB_API"
    revoke_call = f"DELETE {_SELF}"
    check_call = f"GET {_SELF}"

    def revoke(self, endpoint: Endpoint, token: Secret) -> Call:
        answer = request(self.url(endpoint, _SELF), method="DELETE", headers={"PRIVATE-TOKEN": token.reveal()})
        return Call(accepted=answer.status == 204, detail=said(answer, token))

    def check(self, endpoint: Endpoint, token: Secret) -> Check:
        answer = request(self.url(endpoint, _SELF), method="GET", headers={"PRIVATE-TOKEN": token.reveal()})
        refused = True if answer.status == 401 else False if answer.status == 200 else None
        return Check(refused=refused, detail=said(answer, token))
