"""Groups overage: a user in too many groups gets no `groups` claim, so their groups are read
from Microsoft Graph on their behalf, kept briefly, and any failure falls back to the groups in
the database (fewer documents, never more, and never a failed draft)."""
from __future__ import annotations

import json
import time

import pytest
import responses

from backend.services import directory_groups, grounding, identity, knowledge
from tests.fakes.openai_server import Behaviour
from tests.identity.entra_support import GRAPH, consent_required_response, entra_settings, mint
from tests.identity.groups_support import (
    ADMIN, ASKS_FOR_PRICES, HANDBOOK_DOCUMENT, HANDBOOK_FACT, OVERAGE_CLAIMS, PRICE_DOCUMENT,
    PRICE_FACT, SALES_GROUP, documents, draft, ingest, last_prompt)
from tests.web.drafting_support import fake_provider

MEMBER_GROUPS_URL = f"{GRAPH}/me/getMemberGroups"
# More than the 200 a token can hold, which is why they were not in it; the price list's group
# is one of them.
MANY_GROUPS = [f"0000{n:04d}-aaaa-4bbb-8ccc-dddddddddddd" for n in range(250)] + [SALES_GROUP]


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(make_app, openai_server):
    openai_server.set_default(Behaviour.ok("Hello Jane,\n\nThe price is 1,450 EUR [1].\n\nSam"))
    return make_app(**entra_settings(providers=(fake_provider(openai_server),)))


@pytest.fixture
def clock(rt) -> Clock:
    fake = Clock()
    directory_groups.cache(rt).clock = fake
    return fake


@pytest.fixture
def graph(mock):
    """Graph's getMemberGroups; `status`, `code` and `body` script it, `calls` records bodies
    and Authorization headers."""
    class Graph:
        status = 200
        code = "ErrorInternalServerError"
        body: object = {"@odata.context": "https://graph.microsoft.com/v1.0/"
                                          "$metadata#Collection(Edm.String)",
                        "value": MANY_GROUPS}
        calls: list[tuple[dict, str]] = []

    def answer(request):
        Graph.calls.append((json.loads(request.body), request.headers["Authorization"]))
        if Graph.status != 200:
            error = {"error": {"code": Graph.code, "message": "no"}}
            return Graph.status, {"Content-Type": "application/json"}, json.dumps(error)
        return 200, {"Content-Type": "application/json"}, json.dumps(Graph.body)

    Graph.calls = []
    mock.add_callback(responses.POST, MEMBER_GROUPS_URL, callback=answer)
    return Graph


@pytest.fixture
def documents_for_sales_and_staff(rt, tmp_path):
    """The price list for the sales group (an Entra object id); the handbook for 'staff',
    which the user is in through the database."""
    ingest(rt, tmp_path, PRICE_DOCUMENT, PRICE_FACT, groups=[SALES_GROUP])
    ingest(rt, tmp_path, HANDBOOK_DOCUMENT, HANDBOOK_FACT, groups=["staff"])


def _join_staff(rt) -> None:
    user_id = identity.authenticate_entra(rt, mint()).user_id
    knowledge.set_group(rt, ADMIN, user_id, "staff", True)


def test_groups_of_an_overflowing_token_are_read_from_graph_on_the_user_s_behalf(
        client, rt, mock, entra, graph, clock, documents_for_sales_and_staff, openai_server):
    token = mint(**OVERAGE_CLAIMS)
    answer = draft(client, token)
    assert documents(answer) == {PRICE_DOCUMENT}
    assert answer["sources"][0]["cited"] is True
    assert "1,450 EUR" in last_prompt(openai_server)
    # Security groups only, like the SecurityGroup claim, with a delegated Graph token...
    ((body, authorization),) = graph.calls
    assert body == {"securityEnabledOnly": True}
    assert authorization.startswith("Bearer graph-token-")
    # ...exchanged on behalf of the caller, for the group-reading permissions.
    (exchange,) = entra.token_requests()
    assert exchange["requested_token_use"] == ["on_behalf_of"] and exchange["assertion"] == [token]
    assert "https://graph.microsoft.com/GroupMember.Read.All" in exchange["scope"][0].split()
    # The claim source's own endpoint (the retired Azure AD Graph) is never called.
    assert not [c for c in mock.calls if "graph.windows.net" in c.request.url]


def test_groups_from_graph_are_kept_for_a_few_minutes_per_user(
        client, rt, entra, graph, clock, documents_for_sales_and_staff):
    token = mint(**OVERAGE_CLAIMS)
    for _ in range(3):
        assert documents(draft(client, token)) == {PRICE_DOCUMENT}
    assert len(graph.calls) == 1
    clock.now += directory_groups.GROUPS_TTL_S + 1
    graph.body = {"value": MANY_GROUPS[:10]}          # left the sales group meanwhile
    assert draft(client, token)["sources"] == []
    assert len(graph.calls) == 2


@pytest.mark.parametrize("status, code, body", [
    (500, "ErrorInternalServerError", None),
    (403, "Authorization_RequestDenied", None),
    # More than 11,000 groups: getMemberGroups refuses rather than pages.
    (400, "Directory_ResultSizeLimitExceeded", None),
    (200, None, {"value": SALES_GROUP}),                # not a list
    (200, None, {"value": [SALES_GROUP, {"id": "x"}]}),  # not all strings
    (200, None, [SALES_GROUP]),                          # not an object
])
def test_when_graph_fails_the_user_reads_with_database_groups_only(
        client, rt, entra, graph, clock, documents_for_sales_and_staff, caplog,
        status, code, body):
    _join_staff(rt)
    graph.status, graph.code = status, code or graph.code
    if body is not None:
        graph.body = body
    token = mint(**OVERAGE_CLAIMS)
    assert documents(draft(client, token)) == {HANDBOOK_DOCUMENT}
    (record,) = [r for r in caplog.records
                 if r.getMessage() == "directory groups unavailable; database groups only"]
    assert record.error_type == "GraphError" and record.status == status
    logged = " ".join(repr(r.__dict__) for r in caplog.records)
    assert all(part not in logged for part in token.split(".") if len(part) > 8)
    assert "graph-token-" not in logged and SALES_GROUP not in logged

    # The failure is remembered for a minute, so an outage does not slow every draft...
    assert documents(draft(client, token)) == {HANDBOOK_DOCUMENT}
    assert len(graph.calls) == 1
    # ...and once Graph answers again, the user's groups count again.
    graph.status, graph.body = 200, {"value": MANY_GROUPS}
    clock.now += directory_groups.FAILURE_TTL_S + 1
    assert documents(draft(client, token)) == {PRICE_DOCUMENT, HANDBOOK_DOCUMENT}
    assert len(graph.calls) == 2


def test_missing_consent_for_group_reads_costs_documents_not_the_draft(
        client, rt, entra, graph, clock, documents_for_sales_and_staff, caplog):
    entra.token_responses.append(consent_required_response())
    assert draft(client, mint(**OVERAGE_CLAIMS))["sources"] == []
    assert graph.calls == []
    (record,) = [r for r in caplog.records if r.getMessage().startswith("directory groups")]
    assert record.error_type == "ConsentRequired"


def test_graph_is_asked_only_for_overflowing_tokens_and_grounded_drafts(
        client, rt, entra, graph, clock, documents_for_sales_and_staff):
    assert documents(draft(client, mint(groups=[SALES_GROUP]))) == {PRICE_DOCUMENT}
    assert draft(client, mint(**OVERAGE_CLAIMS), grounding=False)["sources"] == []
    assert graph.calls == [] and entra.token_requests() == []


def test_an_overage_without_the_user_s_token_reads_with_database_groups_only(
        rt, entra, graph, clock, documents_for_sales_and_staff):
    _join_staff(rt)
    principal = identity.authenticate_entra(rt, mint(**OVERAGE_CLAIMS))
    hits = grounding.search(rt, principal, ASKS_FOR_PRICES)
    assert {h.document for h in hits} == {HANDBOOK_DOCUMENT}
    assert graph.calls == []


def test_the_group_cache_is_bounded_and_expires():
    clock = Clock()
    cache = directory_groups.GroupCache(max_users=2, clock=clock)
    cache.put(("t", "a"), frozenset({"g1"}), ttl_s=60)
    cache.put(("t", "b"), frozenset({"g2"}), ttl_s=60)
    assert cache.get(("t", "a")) == frozenset({"g1"})      # a is now the most recently used
    cache.put(("t", "c"), frozenset(), ttl_s=10)            # an empty answer is cached too
    assert len(cache) == 2 and cache.get(("t", "b")) is None
    assert cache.get(("t", "c")) == frozenset()
    clock.now += 11
    assert cache.get(("t", "c")) is None and cache.get(("t", "a")) == frozenset({"g1"})
    clock.now += 50
    assert cache.get(("t", "a")) is None and len(cache) == 0
