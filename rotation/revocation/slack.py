"""Slack: ``auth.revoke`` with the leaked token itself, then ``auth.test`` with it.

Both methods take the token in the ``Authorization: Bearer`` header and answer HTTP 200 with a JSON body:
``auth.revoke`` says ``{"ok": true, "revoked": true}`` when it revoked the token, ``{"ok": false, "error":
"invalid_auth"}`` (or ``token_revoked``, ``account_inactive``, ``not_authed``) when it did not.
``auth.test`` answers ``ok: true`` for a working token; ``invalid_auth``/``token_revoked``/
``account_inactive`` prove it refused.
"""

from __future__ import annotations

from rotation.revocation.base import Call, Check, Endpoint, Provider, json_body, request, said
from sanitize.secret import Secret

#: auth.test errors that mean the token is refused (not "we could not tell").
DEAD = ("invalid_auth", "token_revoked", "account_inactive")
_FORM = "application/x-www-form-urlencoded"


class Slack(Provider):
    id = "slack"
    label = "Slack"
    kind = "slack-token"
    default_api = "https://slack.com/api"
    env = "GIT_SANITIZE_SLACK_API"
    revoke_call = "auth.revoke"
    check_call = "auth.test"

    def revoke(self, endpoint: Endpoint, token: Secret) -> Call:
        answer = request(self.url(endpoint, "/auth.revoke"), method="POST", body=b"",
                         headers={"Authorization": f"Bearer {token.reveal()}", "Content-Type": _FORM})
        doc = json_body(answer)
        accepted = answer.status == 200 and doc.get("ok") is True and doc.get("revoked") is True
        return Call(accepted=accepted, detail=said(answer, token))

    def check(self, endpoint: Endpoint, token: Secret) -> Check:
        answer = request(self.url(endpoint, "/auth.test"), method="POST", body=b"",
                         headers={"Authorization": f"Bearer {token.reveal()}", "Content-Type": _FORM})
        doc = json_body(answer)
        if answer.status == 200 and doc.get("ok") is True:
            return Check(refused=False, detail=said(answer, token))
        refused = True if answer.status == 200 and doc.get("error") in DEAD else None
        return Check(refused=refused, detail=said(answer, token))
