"""The Entra `groups` claim: object ids become Principal.groups, documents granted to those ids
reach the user's drafts, and a malformed claim costs documents, never the sign-in."""
from __future__ import annotations

import json

import pytest

from backend.governance.entra_groups import GroupsClaim, read_groups_claim
from backend.services import identity, knowledge
from tests.fakes.openai_server import Behaviour
from tests.identity.entra_support import TENANT, USER_OID, entra_settings, mint
from tests.identity.groups_support import (
    ADMIN, ASKS_FOR_PRICES, BOARD_GROUP, HANDBOOK_DOCUMENT, HANDBOOK_FACT, OTHER_GROUP,
    OVERAGE_CLAIMS, PRICE_DOCUMENT, PRICE_FACT, SALES_GROUP, documents, draft, ingest,
    last_prompt)
from tests.knowledge.kb_support import write_pdf
from tests.web.drafting_support import fake_provider

CITING_REPLY = "Hello Jane,\n\nThe Zephyr X200 costs 1,450 EUR per unit [1].\n\nBest regards,\nSam"


@pytest.fixture
def app(make_app, openai_server):
    openai_server.set_default(Behaviour.ok(CITING_REPLY))
    return make_app(**entra_settings(providers=(fake_provider(openai_server),)))


# --- reading the claim ---------------------------------------------------------------------------


def test_group_ids_are_read_in_lower_case_and_other_names_keep_their_case():
    claim = read_groups_claim({"groups": [SALES_GROUP.upper(), BOARD_GROUP, "CONTOSO\\Sales"]})
    assert claim == GroupsClaim(ids=frozenset({SALES_GROUP, BOARD_GROUP, "CONTOSO\\Sales"}))


def test_no_groups_claim_means_no_groups_and_no_overage():
    assert read_groups_claim({"oid": "x"}) == GroupsClaim()
    assert read_groups_claim({"groups": []}) == GroupsClaim()


def test_the_overage_indicator_is_recognised_without_following_its_endpoint():
    assert read_groups_claim(dict(OVERAGE_CLAIMS)) == GroupsClaim(overage=True)
    # Only a claim source named for groups means an overage.
    assert read_groups_claim({"_claim_names": {"roles": "src1"}}).overage is False
    assert read_groups_claim({"_claim_names": "groups"}).overage is False


@pytest.mark.parametrize("value", [
    SALES_GROUP,                       # a string, not a list
    {"0": SALES_GROUP},
    42,
    [SALES_GROUP, 7],
    [SALES_GROUP, None],
    [SALES_GROUP, ""],
    [SALES_GROUP, "   "],
    [SALES_GROUP, "x" * 201],
    [SALES_GROUP, [BOARD_GROUP]],
])
def test_a_malformed_groups_claim_is_dropped_whole(value):
    claim = read_groups_claim({"groups": value})
    assert claim.ids == frozenset() and claim.overage is False
    assert claim.problem and SALES_GROUP not in claim.problem


# --- signing in ----------------------------------------------------------------------------------


def test_the_groups_claim_becomes_the_principal_s_groups(rt, entra):
    principal = identity.authenticate_entra(rt, mint(groups=[SALES_GROUP, BOARD_GROUP.upper()]))
    assert principal.groups == frozenset({SALES_GROUP, BOARD_GROUP})
    assert principal.groups_overage is False
    assert identity.authenticate_entra(rt, mint()).groups == frozenset()


def test_an_overflowing_token_marks_the_principal_for_a_directory_lookup(rt, entra):
    principal = identity.authenticate_entra(rt, mint(**OVERAGE_CLAIMS))
    assert principal.groups == frozenset() and principal.groups_overage is True


def test_a_malformed_groups_claim_still_signs_the_user_in_without_groups(
        client, rt, entra, caplog):
    token = mint(groups=f"{SALES_GROUP},{BOARD_GROUP}")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert identity.authenticate_entra(rt, token).groups == frozenset()
    records = [r for r in caplog.records if r.getMessage() == "entra groups claim ignored"]
    assert records and records[0].check == "groups claim is not a list"
    assert all(SALES_GROUP not in repr(r.__dict__) for r in caplog.records)


# --- drafting ------------------------------------------------------------------------------------


def test_a_document_granted_to_a_token_group_is_cited_and_without_the_claim_it_is_not(
        client, rt, entra, openai_server, tmp_path):
    # The admin pasted the object id in upper case; Entra sends it in lower case.
    ingest(rt, tmp_path, PRICE_DOCUMENT, PRICE_FACT, groups=[SALES_GROUP.upper()])

    # The same user and the same email, which asks for the document by name: without the
    # claim, nothing of it reaches the prompt or the sources.
    for token in (mint(), mint(groups=[OTHER_GROUP])):
        answer = draft(client, token, ASKS_FOR_PRICES)
        assert answer["sources"] == []
        prompt = last_prompt(openai_server)
        assert "1,450 EUR" not in prompt and f"{PRICE_DOCUMENT}, page" not in prompt

    answer = draft(client, mint(groups=[OTHER_GROUP, SALES_GROUP]), ASKS_FOR_PRICES)
    assert documents(answer) == {PRICE_DOCUMENT}
    assert answer["sources"][0]["cited"] is True and "[1]" in answer["text"]
    prompt = last_prompt(openai_server)
    assert "1,450 EUR" in prompt and f"{PRICE_DOCUMENT}, page 1" in prompt


def test_a_token_group_and_a_database_group_add_up(client, rt, entra, tmp_path):
    ingest(rt, tmp_path, PRICE_DOCUMENT, PRICE_FACT, groups=[SALES_GROUP])
    ingest(rt, tmp_path, HANDBOOK_DOCUMENT, HANDBOOK_FACT, groups=["staff"])
    user_id = identity.authenticate_entra(rt, mint()).user_id
    knowledge.set_group(rt, ADMIN, user_id, "staff", True)
    answer = draft(client, mint(groups=[SALES_GROUP]), ASKS_FOR_PRICES)
    assert documents(answer) == {PRICE_DOCUMENT, HANDBOOK_DOCUMENT}
    assert documents(draft(client, mint(), ASKS_FOR_PRICES)) == {HANDBOOK_DOCUMENT}


def test_a_grant_to_the_user_s_object_id_matches_however_it_was_typed(
        client, rt, entra, tmp_path):
    ingest(rt, tmp_path, PRICE_DOCUMENT, PRICE_FACT, users=[USER_OID.upper()])
    assert documents(draft(client, mint())) == {PRICE_DOCUMENT}


def test_a_malformed_claim_grants_nothing(client, rt, entra, tmp_path):
    ingest(rt, tmp_path, PRICE_DOCUMENT, PRICE_FACT, groups=[SALES_GROUP])
    assert draft(client, mint(groups=[SALES_GROUP, 5]), ASKS_FOR_PRICES)["sources"] == []
    assert documents(draft(client, mint(groups=[SALES_GROUP]), ASKS_FOR_PRICES)) == {
        PRICE_DOCUMENT}


def test_a_document_ingested_on_the_command_line_for_an_object_id_reaches_that_group(
        client, rt, entra, run_cli, tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    write_pdf(folder / PRICE_DOCUMENT, [PRICE_FACT])
    result = run_cli("kb", "ingest", str(folder), "--groups", SALES_GROUP.upper(),
                     "--tenant", TENANT, "--local")
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(run_cli("kb", "list", "--tenant", TENANT).stdout)
    assert listed["groups"] == [SALES_GROUP]  # stored the way Entra sends it
    assert draft(client, mint(groups=[OTHER_GROUP]))["sources"] == []
    assert documents(draft(client, mint(groups=[SALES_GROUP]))) == {PRICE_DOCUMENT}
