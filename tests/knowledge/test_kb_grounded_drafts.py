"""Drafts grounded in permitted documents: [n] citations, listed sources, nothing forbidden."""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from backend.governance.identity import Principal
from backend.services import knowledge
from backend.web.openapi import document
from tests.conftest import local_headers
from tests.fakes.openai_server import Behaviour
from tests.knowledge.conftest import MERGER_FACT, PRICE_FACT
from tests.knowledge.kb_support import write_pdf
from tests.web.drafting_support import fake_provider

ADMIN = Principal(idp="cli", tenant_id="acme", subject="operator",
                  roles=frozenset({"tenant_admin"}))


def _setup(rt, client, tmp_path) -> dict[str, str]:
    """Price list for sales, board minutes for the board; 'sam' is in sales only."""
    for name, group, text in (("price-list", "sales", PRICE_FACT), ("board-minutes", "board",
                                                                      MERGER_FACT)):
        folder = tmp_path / name
        folder.mkdir()
        write_pdf(folder / f"{name}.pdf", [f"{name} 2024\n{text}\nQuestions: anna.berg@acme-example.com"])
        knowledge.ingest_path(rt, ADMIN, folder, groups=[group])
    headers = local_headers("acme", "sam")
    user_id = client.get("/api/v1/me", headers=headers).get_json()["user_id"]
    knowledge.set_group(rt, ADMIN, user_id, "sales", True)
    return headers


def _draft(client, headers, body_text: str, **options):
    body = {"message": {"subject": "Question", "from": "Jane Doe <jane@customer-example.com>",
                        "body_text": body_text}}
    if options:
        body["options"] = options
    response = client.post("/api/v1/drafts", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _prompt(server) -> str:
    return json.dumps(server.requests[-1].body["messages"], ensure_ascii=False)


def test_draft_cites_a_permitted_passage_and_lists_its_source(make_app, openai_server,
                                                              tmp_path):
    app = make_app(providers=(fake_provider(openai_server),))
    client, rt = app.test_client(), app.extensions["replywise"]
    headers = _setup(rt, client, tmp_path)
    openai_server.script(Behaviour.ok("Hello Jane,\n\nThe Zephyr X200 costs 1,450 EUR per unit "
                                      "[1].\n\nBest regards,\nSam"))
    draft = _draft(client, headers, "Hi,\n\nWhat does the Zephyr X200 cost per unit?\n\nJane")
    assert "[1]" in draft["text"]
    assert draft["sources"][0] | {"excerpt": ""} == {
        "n": 1, "document": "price-list.pdf", "page": 1, "cited": True, "excerpt": "",
        "document_id": draft["sources"][0]["document_id"]}
    assert "Zephyr X200" in draft["sources"][0]["excerpt"]
    validator = Draft202012Validator({"$ref": "#/components/schemas/Draft",
                                      "components": document()["components"]})
    assert list(validator.iter_errors(draft)) == []
    prompt = _prompt(openai_server)
    assert 'part=\\"source [1]: price-list.pdf, page 1\\"' in prompt
    assert "1,450 EUR" in prompt and "[1] or [2]" in prompt
    # Passages are redacted like the email before they leave.
    assert "anna.berg@acme-example.com" not in prompt and "[EMAIL_" in prompt


def test_a_forbidden_document_asked_for_by_name_is_never_quoted_or_cited(make_app, openai_server,
                                                                         tmp_path):
    app = make_app(providers=(fake_provider(openai_server),))
    client, rt = app.test_client(), app.extensions["replywise"]
    headers = _setup(rt, client, tmp_path)
    openai_server.script(Behaviour.ok("Hello Jane,\n\nI cannot share that [1] [2].\n\nSam"))
    draft = _draft(client, headers, "Hi Sam,\n\nPlease quote board-minutes.pdf for me: what did "
                                    "the board approve about Project Nightjar and the Orbital "
                                    "Freight acquisition? Include the price.\n\nJane")
    prompt = _prompt(openai_server)
    assert "Orbital Freight for 80 million" not in prompt
    assert "board-minutes.pdf, page" not in prompt
    assert all(s["document"] != "board-minutes.pdf" for s in draft["sources"])
    assert "80 million" not in draft["text"]


def test_grounding_off_sends_no_passages_and_lists_no_sources(make_app, openai_server, tmp_path):
    app = make_app(providers=(fake_provider(openai_server),))
    client, rt = app.test_client(), app.extensions["replywise"]
    headers = _setup(rt, client, tmp_path)
    draft = _draft(client, headers, "What does the Zephyr X200 cost?", grounding=False)
    assert draft["sources"] == []
    prompt = _prompt(openai_server)
    assert "source [" not in prompt and "1,450" not in prompt


def test_a_tenant_without_documents_drafts_as_before(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    draft = _draft(app.test_client(), local_headers("empty-co", "sam"),
                   "What does the Zephyr X200 cost?")
    assert draft["sources"] == [] and "source [" not in _prompt(openai_server)


def test_the_offline_drafter_uses_retrieved_facts_with_citations(make_app, tmp_path):
    app = make_app()
    client, rt = app.test_client(), app.extensions["replywise"]
    headers = _setup(rt, client, tmp_path)
    draft = _draft(client, headers, "Hi,\n\nWhat does the Zephyr X200 cost per unit?\n\nJane")
    assert draft["status"] == "offline"
    assert f"Relevant: {PRICE_FACT} [1]" in draft["text"]
    assert draft["sources"][0]["cited"] is True
    assert "Orbital" not in draft["text"]
