"""GitHub: the credential revocation endpoint, then ``GET /user`` with the leaked token.

``POST /credentials/revoke`` takes ``{"credentials": [...]}`` (up to 1000) and answers ``202 Accepted``;
``422`` means validation failed or the endpoint was spammed. On GitHub.com the request is sent without
authentication (authenticated requests get ``403``); GitHub Enterprise Server documents it as
authenticated, hence ``revocation.github.token_env``. GitHub queues the revocation, so the follow-up
``GET /user`` may still answer ``200`` for a while: only ``401`` proves the token dead.
"""

from __future__ import annotations

import json

from rotation.revocation.base import Call, Check, Endpoint, Provider, request, said
from sanitize.secret import Secret

_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHub(Provider):
    id = "github"
    label = "GitHub"
    kind = "github-token"
    default_api = "https://api.github.com"
    env = "GIT_SANITIZE_GITHUB_API"
    asynchronous = True
    revoke_call = "POST /credentials/revoke"
    check_call = "GET /user"

    def revoke(self, endpoint: Endpoint, token: Secret) -> Call:
        headers = {**_HEADERS, "Content-Type": "application/json"}
        if endpoint.auth is not None:
            headers["Authorization"] = f"Bearer {endpoint.auth.reveal()}"
        body = json.dumps({"credentials": [token.reveal()]}).encode()
        answer = request(self.url(endpoint, "/credentials/revoke"), method="POST", headers=headers, body=body)
        return Call(accepted=answer.status == 202, detail=said(answer, token))

    def check(self, endpoint: Endpoint, token: Secret) -> Check:
        headers = {**_HEADERS, "Authorization": f"Bearer {token.reveal()}"}
        answer = request(self.url(endpoint, "/user"), method="GET", headers=headers)
        refused = True if answer.status == 401 else False if answer.status == 200 else None
        return Check(refused=refused, detail=said(answer, token))
