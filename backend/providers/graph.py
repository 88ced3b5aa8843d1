"""Microsoft Graph over HTTP, with a delegated (on-behalf-of) token: the user's own mailbox and
group memberships only."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

# Drafting waits on this call, so it gets a short budget: context is a bonus, the draft is not.
TIMEOUT_S = (3.05, 8.0)
MESSAGE_FIELDS = ("subject", "from", "toRecipients", "ccRecipients", "receivedDateTime", "body",
                  "internetMessageId", "isDraft")


class GraphError(Exception):
    """A Graph call failed; `status` is the HTTP status (0 for no response), `code` Graph's own
    error code. Neither carries message content or tokens."""

    def __init__(self, status: int, code: str):
        super().__init__(f"graph {status} {code}")
        self.status = status
        self.code = code


class GraphClient:
    """The few Graph calls Replywise makes."""

    def __init__(self, base_url: str, *, session: requests.Session | None = None):
        self._base = base_url.rstrip("/")
        self._session = session or requests.Session()

    def conversation_messages(self, access_token: str, conversation_id: str,
                              top: int = 25) -> list[dict[str, Any]]:
        """The newest `top` messages of a conversation in the user's mailbox, oldest first."""
        # Graph refuses $orderby on a property that is not also the first term of $filter
        # ("InefficientFilter"), so the filter leads with an always-true date condition.
        # Newest first on the wire, so $top keeps the messages closest to the one answered.
        params = {
            "$filter": (f"receivedDateTime ge 1900-01-01T00:00:00Z and "
                        f"conversationId eq '{odata_quote(conversation_id)}'"),
            "$select": ",".join(MESSAGE_FIELDS),
            "$orderby": "receivedDateTime desc",
            "$top": str(top),
        }
        body = self._get("/me/messages", access_token, params)
        items = body.get("value")
        if not isinstance(items, list):
            raise GraphError(200, "unexpected_shape")
        messages = [m for m in items if isinstance(m, dict)]
        messages.reverse()
        return messages

    def member_group_ids(self, access_token: str) -> list[str]:
        """Object ids of the security groups the signed-in user belongs to, nested ones included.

        `getMemberGroups` answers in one response (no paging) with up to 11,000 ids; a user in
        more gets 400 Directory_ResultSizeLimitExceeded, which surfaces as a GraphError. Security
        groups only (`securityEnabledOnly`), the same kind of ids the token's `groups` claim
        holds with groupMembershipClaims "SecurityGroup", so a user whose token overflowed reads
        what they would have read had it not.
        """
        body = self._send("POST", "/me/getMemberGroups", access_token,
                          json={"securityEnabledOnly": True})
        ids = body.get("value")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise GraphError(200, "unexpected_shape")
        return ids

    def _get(self, path: str, access_token: str, params: dict[str, str]) -> dict[str, Any]:
        # Plain-text bodies from the server: cheaper than converting HTML here.
        return self._send("GET", path, access_token, params=params,
                          headers={"Prefer": 'outlook.body-content-type="text"'})

    def _send(self, method: str, path: str, access_token: str, *,
              params: dict[str, str] | None = None, json: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json",
                   **(headers or {})}
        try:
            response = self._session.request(method, self._base + path, params=params,
                                             json=json, headers=headers, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise GraphError(0, type(exc).__name__) from None
        if response.status_code != 200:
            raise GraphError(response.status_code, _error_code(response))
        try:
            body = response.json()
        except ValueError:
            raise GraphError(200, "invalid_json") from None
        if not isinstance(body, dict):
            raise GraphError(200, "unexpected_shape")
        return body


def delegated_scope(graph_base_url: str, permission: str) -> str:
    """A delegated permission on the Graph this deployment talks to (sovereign clouds have
    their own host): ("https://graph.microsoft.us/v1.0", "Mail.Read") -> ".../Mail.Read"."""
    parts = urlsplit(graph_base_url)
    return f"{parts.scheme}://{parts.netloc}/{permission}"


def odata_quote(value: str) -> str:
    """A value for inside an OData string literal: a single quote is written twice."""
    return value.replace("'", "''")


def _error_code(response: requests.Response) -> str:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "http_error"
    return str(code)[:64] if code else "http_error"
