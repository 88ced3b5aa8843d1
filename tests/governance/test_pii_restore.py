"""Putting originals back into a provider's draft (backend.governance.pii.restore)."""
from __future__ import annotations

import pytest

from backend.drafting.model import Address, DraftContext
from backend.governance.pii import PiiPolicy, Redactor, redact_context, restore

LONG_EMAIL = """\
Subject: Re: Falcon rollout, refund for CUST-004211

Hi Sam,

Thanks for the call this morning. As discussed, Jane Doe (jane.doe@example.com, direct line
(415) 555-0132) will own the Falcon migration from our side; Jane is back on Monday. Please
refund the duplicate charge on card 4111 1111 1111 1111 to our account instead:
DE89 3704 0044 0532 0130 00 (or, for the UK entity, GB82 WEST 1234 5698 7654 32).

Our payroll contact needs the SSN on file, 123-45-6789, corrected before the 2024-03-31 run.
The VPN logs show logins from 192.0.2.44 and 2001:db8::1 at 10:30:00; Bob Smith at our London
office (+44 20 7946 0958, bob.smith@example.co.uk) can confirm. Order 1234 5678 9012 3456 and
invoice 2024-0042 are unaffected.

Best regards,
Jane

Jane Doe
Head of Operations, Acme Ltd.
jane.doe@example.com | (415) 555-0132

> On 12 March 2024, Sam Lee <sam.lee@vendor.example> wrote:
> Hi Jane, could you send the account details for CUST-004211? Thanks, Sam
"""
POLICY = PiiPolicy(custom_patterns={"CUSTOMER_ID": r"CUST-\d{6}"},
                   word_lists={"PROJECT": ["Falcon", "Bluebird"]})
NAMES = ("Jane Doe", "Bob Smith", "Sam Lee")


def test_redact_then_restore_round_trips_a_long_email_with_every_type():
    r = Redactor(POLICY, known_names=NAMES)
    redacted = r.redact(LONG_EMAIL)
    for value in ("Jane", "Doe", "jane.doe@", "555-0132", "4111 1111", "DE89", "GB82", "6789",
                  "192.0.2.44", "2001:db8", "7946", "Bob", "Smith", "Sam", "Lee", "CUST-",
                  "Falcon"):
        assert value not in redacted
    assert set(r.counts()) == {"EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "PERSON",
                               "CUSTOMER_ID", "PROJECT"}
    # Luhn-failing order number, dates and times stay as they are.
    assert "Order 1234 5678 9012 3456" in redacted and "2024-03-31" in redacted
    assert restore(redacted, r.mapping) == LONG_EMAIL


def test_restore_round_trips_when_fields_are_redacted_separately():
    r = Redactor(POLICY, known_names=NAMES)
    parts = LONG_EMAIL.split("\n\n")
    redacted = [r.redact(p) for p in parts]
    assert [restore(p, r.mapping) for p in redacted] == parts


@pytest.mark.parametrize("written", [
    "[EMAIL_1]", "[ email_1 ]", "[Email_1]", "[EMAIL 1]", "[email-1]", r"\[EMAIL\_1\]",
    "[ Email _ 1 ]"])
def test_restore_tolerates_how_an_llm_rewrites_a_placeholder(written):
    assert restore(f"Write to {written}.", {"[EMAIL_1]": "jane@example.com"}) == \
        "Write to jane@example.com."


def test_restore_tolerates_variants_of_multi_word_tenant_labels():
    mapping = {"[CUSTOMER_ID_1]": "CUST-004211"}
    assert restore("Ref [customer id 1], [Customer_Id_1]", mapping) == \
        "Ref CUST-004211, CUST-004211"


def test_unknown_placeholders_and_ordinary_brackets_are_left_as_is():
    mapping = {"[EMAIL_1]": "jane@example.com"}
    text = "See [EMAIL_2], [PHONE_1], [link](https://x.example) and [sic] - [EMAIL_1]"
    assert restore(text, mapping) == \
        "See [EMAIL_2], [PHONE_1], [link](https://x.example) and [sic] - jane@example.com"


def test_restore_is_one_pass_so_originals_are_never_expanded_again():
    mapping = {"[PERSON_1]": "[EMAIL_1]", "[EMAIL_1]": "jane@example.com"}
    assert restore("[PERSON_1] / [EMAIL_1]", mapping) == "[EMAIL_1] / jane@example.com"


def test_restore_without_mapping_returns_the_text_unchanged():
    assert restore("Dear [PERSON_1],", {}) == "Dear [PERSON_1],"


def test_restore_leaves_literal_placeholders_from_the_input_alone():
    r = Redactor(known_names=["Jane Doe"])
    original = "Fill in [PERSON_1] for Jane."
    assert r.restore(r.redact(original)) == original


def test_users_own_name_comes_back_in_the_sign_off():
    ctx = DraftContext(subject="Invoice", sender=Address("Jane Doe", "jane@example.com"),
                       latest="Hi Sam, can you resend the invoice? Jane", user_name="Sam Lee")
    r = Redactor()
    safe = redact_context(ctx, r)
    draft = f"Hi {safe.sender.name.split()[0]},\n\nAttached.\n\nBest,\n{safe.user_name}"
    assert "Sam" not in draft and "Jane" not in draft
    assert restore(draft, r.mapping) == "Hi Jane Doe,\n\nAttached.\n\nBest,\nSam Lee"
