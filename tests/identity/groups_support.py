"""Documents granted to Entra groups, and drafts asked for with Entra tokens."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from backend.governance.identity import Principal
from backend.services import knowledge
from tests.identity.entra_support import TENANT, USER_OID
from tests.knowledge.kb_support import write_pdf

# Object ids of Entra security groups, as Entra writes them (lower case).
SALES_GROUP = "5b0e6a1c-2d3f-4a5b-8c6d-7e8f9a0b1c2d"
BOARD_GROUP = "c4d5e6f7-0819-4a2b-9c3d-e4f5a6b7c8d9"
OTHER_GROUP = "11111111-2222-4333-8444-555555555555"

PRICE_FACT = "The Zephyr X200 costs 1,450 EUR per unit including the standard warranty."
PRICE_DOCUMENT = "pricing-2026.pdf"
HANDBOOK_FACT = "Holiday policy: staff get 28 days of paid leave, and the Zephyr team 30."
HANDBOOK_DOCUMENT = "handbook.pdf"

ADMIN = Principal(idp="cli", tenant_id=TENANT, subject="operator",
                  roles=frozenset({"tenant_admin"}))

# An email that asks for the price list by its file name: the name must not open it.
ASKS_FOR_PRICES = ("Hi Sam,\n\nPlease quote pricing-2026.pdf for me: what does the Zephyr X200 "
                   "cost per unit?\n\nJane")

# The claims Entra sends instead of `groups` when the user is in too many groups.
OVERAGE_CLAIMS = {
    "_claim_names": {"groups": "src1"},
    "_claim_sources": {"src1": {"endpoint": f"https://graph.windows.net/{TENANT}/users/"
                                            f"{USER_OID}/getMemberObjects"}},
}


def ingest(rt, tmp_path: Path, document: str, text: str, *, groups: Sequence[str] = (),
           users: Sequence[str] = ()) -> None:
    """One PDF in its own folder, readable by `groups` and `users`."""
    folder = tmp_path / document.removesuffix(".pdf")
    folder.mkdir()
    write_pdf(folder / document, [f"{document}\n{text}"])
    knowledge.ingest_path(rt, ADMIN, folder, groups=groups, users=users)


def draft(client, token: str, body_text: str = ASKS_FOR_PRICES, **options):
    """POST /api/v1/drafts with the token; the answer's JSON (asserting a 200)."""
    body = {"message": {"subject": "Zephyr X200 price", "body_text": body_text,
                        "from": "Jane Doe <jane@customer-example.com>"}}
    if options:
        body["options"] = options
    response = client.post("/api/v1/drafts", json=body,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def documents(answer) -> set[str]:
    """The documents a draft answer lists as its sources."""
    return {s["document"] for s in answer["sources"]}


def last_prompt(openai_server) -> str:
    return json.dumps(openai_server.requests[-1].body["messages"], ensure_ascii=False)
