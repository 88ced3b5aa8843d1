"""Detection, numbering and policy of personal-data redaction (backend.governance.pii)."""
from __future__ import annotations

import pytest

from backend.drafting.model import Address, DraftContext
from backend.governance.pii import PiiBlocked, PiiPolicy, PolicyError, Redactor, redact_context


def redact(text: str, policy: PiiPolicy | None = None, names: tuple[str, ...] = ()) -> str:
    return Redactor(policy, known_names=names).redact(text)


# --- each type, in realistic text ---------------------------------------------------------

def test_email_addresses_are_redacted_and_case_does_not_make_a_new_value():
    r = Redactor()
    out = r.redact("Write to Jane.Doe@Example.com, or jane.doe@example.com; cc ops@acme.co.uk.")
    assert out == "Write to [EMAIL_1], or [EMAIL_1]; cc [EMAIL_2]."
    assert r.mapping["[EMAIL_1]"] == "Jane.Doe@Example.com"


def test_email_domain_is_not_also_a_name_or_a_listed_word():
    policy = PiiPolicy(word_lists={"PROJECT": ["Falcon"]})
    out = redact("Reach Doe at Doe@falcon.io about Falcon.", policy, names=("Jane Doe",))
    assert out == "Reach [PERSON_1] at [EMAIL_1] about [PROJECT_1]."


def test_us_phone_numbers_in_different_formats_share_one_placeholder():
    out = redact("Call (415) 555-0132 or 415.555.0132, else +1 415 555 0132.")
    assert out == "Call [PHONE_1] or [PHONE_1], else [PHONE_1]."


def test_plus_prefixed_international_numbers_are_caught_whatever_the_region():
    out = redact("London office: +44 20 7946 0958, Berlin +49 30 901820.")
    assert out == "London office: [PHONE_1], Berlin [PHONE_2]."


@pytest.mark.parametrize(("region", "text"), [
    ("GB", "Ring us on 020 7946 0958 today."),
    ("DE", "Ruf mich an: 0151 23456789 bitte."),
])
def test_national_numbers_follow_the_tenants_default_region(region, text):
    assert "[PHONE_1]" in redact(text, PiiPolicy(default_region=region))
    assert "[PHONE_1]" not in redact(text, PiiPolicy(default_region="US"))


def test_phone_extension_is_part_of_the_number():
    assert redact("Desk: +1 415 555 0132 ext. 12 (mornings)") == "Desk: [PHONE_1] (mornings)"


@pytest.mark.parametrize("text", [
    "Invoice dated 2024-03-15 for 1200 units.",
    "Meeting 15.03.2024 at 10:30, room 4.12.",
    "Version 3.2.1 ships with 42 fixes.",
])
def test_dates_versions_and_short_numbers_are_not_phone_numbers(text):
    assert redact(text) == text


@pytest.mark.parametrize("card", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "3782 822463 10005"])
def test_luhn_valid_card_numbers_are_redacted(card):
    assert redact(f"Please charge {card} now.") == "Please charge [CARD_1] now."


@pytest.mark.parametrize("digits", [
    "4111 1111 1111 1112",      # one digit off: fails Luhn
    "Order 1234567812345678",   # an order number that fails Luhn
    "9876543210123",
    "0000 0000 0000 0000",      # passes Luhn, but it is filler
])
def test_digit_strings_failing_luhn_are_left_alone(digits):
    text = f"Reference: {digits}."
    assert redact(text) == text


def test_card_number_is_not_also_a_phone_number():
    r = Redactor()
    assert r.redact("card 4111 1111 1111 1111") == "card [CARD_1]"
    assert r.counts() == {"CARD": 1}


def test_card_spaced_like_a_card_keeps_one_placeholder_across_formats():
    r = Redactor()
    assert r.redact("4111 1111 1111 1111 / 4111-1111-1111-1111") == "[CARD_1] / [CARD_1]"


def test_ibans_are_redacted_with_or_without_spaces_as_one_value():
    r = Redactor()
    out = r.redact("Pay to DE89 3704 0044 0532 0130 00 (DE89370400440532013000), or "
                   "GB82 WEST 1234 5698 7654 32, or fr1420041010050500013m02606.")
    assert out == "Pay to [IBAN_1] ([IBAN_1]), or [IBAN_2], or [IBAN_3]."


@pytest.mark.parametrize("iban", [
    "DE89 3704 0044 0532 0130 01",   # check digits do not match
    "GB82 WEST 1234 5698 7654 3",     # one character short for GB
    "XX89 3704 0044 0532 0130 00",   # not a country we know
])
def test_ibans_with_bad_checksum_or_length_are_left_alone(iban):
    text = f"Account {iban} please."
    assert redact(text) == text


def test_phone_like_digits_inside_an_iban_are_not_matched_separately():
    r = Redactor(PiiPolicy(default_region="DE"))
    assert r.redact("IBAN: DE89 3704 0044 0532 0130 00") == "IBAN: [IBAN_1]"
    assert r.counts() == {"IBAN": 1}


def test_valid_us_ssn_is_redacted():
    assert redact("My SSN is 123-45-6789.") == "My SSN is [SSN_1]."


@pytest.mark.parametrize("ssn", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567",
                                 "123-45-0000"])
def test_ssns_in_ranges_never_issued_are_left_alone(ssn):
    text = f"Number {ssn} on file."
    assert redact(text) == text


def test_ipv4_and_ipv6_addresses_are_redacted():
    out = redact("Login from 192.0.2.44 and 2001:db8::1, gateway ::ffff:192.0.2.1.")
    assert out == "Login from [IP_1] and [IP_2], gateway [IP_3]."


@pytest.mark.parametrize("text", [
    "Range 999.1.2.3 is not an address.",
    "The call is at 10:30:00 sharp.",
    "Build v1.2.3.4 is out.",
    "MAC 00:1A:2B:3C:4D:5E on the label.",
])
def test_invalid_ips_times_and_versions_are_left_alone(text):
    assert redact(text) == text


# --- names --------------------------------------------------------------------------------

def test_names_from_headers_are_redacted_including_a_lone_first_or_last_name():
    r = Redactor(known_names=["Jane Doe", "Bob Smith"])
    out = r.redact("Hi Jane,\nJane Doe told me Mr Smith agrees. Thanks, Bob")
    assert out == "Hi [PERSON_1],\n[PERSON_2] told me Mr [PERSON_3] agrees. Thanks, [PERSON_4]"
    assert r.mapping["[PERSON_2]"] == "Jane Doe"


def test_name_matching_is_case_sensitive_and_on_word_boundaries():
    text = "Janet and jane said the doe Does not run; JaneDoe is a handle."
    assert redact(text, names=("Jane Doe",)) == text


def test_short_parts_and_honorifics_are_not_redacted_on_their_own():
    out = redact("Dr. Li Wei wrote; Li and the Dr agree with Wei.", names=("Dr. Li Wei",))
    assert out == "[PERSON_1] wrote; Li and the Dr agree with [PERSON_2]."


def test_directory_style_name_also_matches_first_last_order():
    out = redact("Jane Doe (listed as Doe, Jane)", names=("Doe, Jane",))
    assert out == "[PERSON_1] (listed as [PERSON_2])"


def test_full_name_across_a_line_break_is_one_value():
    r = Redactor(known_names=["Jane Doe"])
    assert r.redact("Jane\nDoe and Jane Doe") == "[PERSON_1] and [PERSON_1]"


# --- tenant patterns and word lists -------------------------------------------------------

def test_tenant_regex_and_word_lists_are_redacted_under_their_labels():
    policy = PiiPolicy(custom_patterns={"CUSTOMER_ID": r"CUST-\d{6}"},
                       word_lists={"PROJECT": ["Bluebird", "Falcon"], "CLIENT": ["Globex Corp"]})
    out = redact("CUST-004211 asked about FALCON and bluebird for Globex  Corp; CUST-004211 again.",
                 policy)
    assert out == ("[CUSTOMER_ID_1] asked about [PROJECT_1] and [PROJECT_2] for [CLIENT_1]; "
                   "[CUSTOMER_ID_1] again.")


def test_word_lists_match_whole_words_only():
    text = "Falconry and Bluebirds are hobbies."
    assert redact(text, PiiPolicy(word_lists={"PROJECT": ["Falcon", "Bluebird"]})) == text


def test_tenant_pattern_beats_a_built_in_type_on_the_same_text():
    policy = PiiPolicy(custom_patterns={"TICKET": r"\d{3}-\d{2}-\d{4}"})
    assert redact("Ticket 123-45-6789", policy) == "Ticket [TICKET_1]"


@pytest.mark.parametrize("pattern", [
    r"(a+)+$", r"(a|ab)*c", r"(?:a|b){2,5}", r"(a?a){2,9}b", r"[A-Z]+-\d+", r"\d*x", r"x\d{3,}",
    r"\w{1,9}\w{1,9}\w{1,9}!", r"\w{1,300}", r"(x)\1", r"(?P<n>x)(?P=n)", "a" * 501])
def test_dangerous_tenant_regex_is_rejected_naming_the_pattern(pattern):
    with pytest.raises(PolicyError, match=r"custom_patterns\['ORDER_REF'\]"):
        PiiPolicy(custom_patterns={"ORDER_REF": pattern})


@pytest.mark.parametrize("pattern", [
    r"CUST-\d{6}", r"(?:[A-Z]{2}-)?\d{6}", r"(?:\d{3}-){1,4}\d", r"(?:INV|CRN)-\d{4,10}",
    r"[A-Z]{2,10}-\d{1,12}", r"[(+]\d{2,4}[)]", r"(?i)proj-[a-z]{3}\d{2}", r"\bE\d{5}\b",
    r"(?>[A-Z]{1,3}\d){2}"])
def test_ordinary_tenant_regexes_are_accepted(pattern):
    PiiPolicy(custom_patterns={"REF": pattern})


def test_tenant_regex_that_does_not_compile_or_matches_nothing_is_rejected():
    with pytest.raises(PolicyError, match=r"custom_patterns\['BAD'\].*not a valid"):
        PiiPolicy(custom_patterns={"BAD": r"CUST-(\d{6}"})
    with pytest.raises(PolicyError, match="matches empty text"):
        PiiPolicy(custom_patterns={"EMPTY": r"\d{0,4}"})


@pytest.mark.parametrize(("data", "field"), [
    ({"actions": {"CARD": "deny"}}, r"actions\['CARD'\]"),
    ({"actions": {"PASSPORT": "block"}}, r"actions\['PASSPORT'\]"),
    ({"default_region": "XX"}, "default_region"),
    ({"word_lists": {"PROJECT": "Falcon"}}, r"word_lists\['PROJECT'\]"),
    ({"word_lists": {"project": ["Falcon"]}}, r"word_lists\['project'\]"),
    ({"custom_patterns": {"EMAIL": "x"}}, r"custom_patterns\['EMAIL'\]"),
    ({"custom_patterns": ["x"]}, "custom_patterns"),
    ({"colour": "blue"}, "colour"),
])
def test_policy_from_dict_names_the_bad_field(data, field):
    with pytest.raises(PolicyError, match=field):
        PiiPolicy.from_dict(data)


def test_policy_from_dict_accepts_a_full_policy():
    policy = PiiPolicy.from_dict({"actions": {"CARD": "block", "IP": "allow", "REF": "redact"},
                                  "custom_patterns": {"REF": r"R-\d{4}"},
                                  "word_lists": {"PROJECT": ["Falcon"]}, "default_region": "gb"})
    assert policy.default_region == "GB"
    assert policy.action_for("CARD") == "block" and policy.action_for("EMAIL") == "redact"


# --- numbering and existing placeholders --------------------------------------------------

def test_numbering_is_stable_across_fields_and_per_type_in_order_of_appearance():
    r = Redactor(known_names=["Jane Doe"])
    subject = r.redact("Re: refund for jane@example.com")
    body = r.redact("Hi, bob@example.com here. jane@example.com and I called (415) 555-0132.")
    assert subject == "Re: refund for [EMAIL_1]"
    assert body == "Hi, [EMAIL_2] here. [EMAIL_1] and I called [PHONE_1]."


def test_text_that_already_looks_like_a_placeholder_is_left_alone():
    r = Redactor(known_names=["Jane Doe"])
    out = r.redact("Template: Dear [PERSON_1], your [CARD_2] ... from jane@example.com, Jane")
    assert out == "Template: Dear [PERSON_1], your [CARD_2] ... from [EMAIL_1], [PERSON_2]"
    # The literal "[PERSON_1]" is not ours, so restoring must not turn it into Jane.
    assert r.mapping == {"[EMAIL_1]": "jane@example.com", "[PERSON_2]": "Jane"}


def test_redacting_already_redacted_text_changes_nothing():
    r = Redactor(known_names=["Jane Doe"])
    once = r.redact("Jane Doe, jane@example.com, 4111 1111 1111 1111")
    assert r.redact(once) == once


# --- policy actions -----------------------------------------------------------------------

def test_block_policy_raises_pii_blocked_naming_the_type_but_never_the_value():
    r = Redactor(PiiPolicy(actions={"CARD": "block", "SSN": "block"}))
    with pytest.raises(PiiBlocked) as info:
        r.redact("Card 4111 1111 1111 1111, SSN 123-45-6789, mail a@example.com")
    exc = info.value
    assert exc.types == ("CARD", "SSN")
    for shown in (str(exc), repr(exc), repr(exc.args)):
        assert "4111" not in shown and "6789" not in shown and "example" not in shown
        assert "CARD" in shown


def test_blocked_request_numbers_nothing():
    r = Redactor(PiiPolicy(actions={"SSN": "block"}))
    with pytest.raises(PiiBlocked):
        r.redact_many(["mail a@example.com", "SSN 123-45-6789"])
    assert r.mapping == {} and r.counts() == {}


def test_allow_policy_leaves_values_and_still_shields_what_they_contain():
    r = Redactor(PiiPolicy(actions={"EMAIL": "allow", "IP": "allow"}), known_names=["Jane Doe"])
    text = "Jane.Doe@example.com from 192.0.2.44; Jane"
    assert r.redact(text) == "Jane.Doe@example.com from 192.0.2.44; [PERSON_1]"


def test_counts_report_distinct_values_per_type():
    r = Redactor(known_names=["Jane Doe"])
    r.redact("jane@example.com, JANE@example.com, bob@example.com")
    r.redact("Jane, 4111 1111 1111 1111")
    assert r.counts() == {"EMAIL": 2, "PERSON": 1, "CARD": 1}


# --- nothing leaks ------------------------------------------------------------------------

def test_reprs_leak_no_values():
    policy = PiiPolicy(custom_patterns={"REF": r"R-\d{4}"}, word_lists={"CLIENT": ["Globex"]})
    r = Redactor(policy, known_names=["Jane Doe"])
    text = "Jane Doe, jane@example.com, R-1234, Globex, 4111 1111 1111 1111"
    r.redact(text)
    shown = repr(r) + str(r) + repr(policy) + repr(r.spans(text))
    for value in ("Jane", "Doe", "jane@", "1234", "Globex", "4111"):
        assert value not in shown


def test_spans_give_original_positions_without_changing_the_session():
    r = Redactor(PiiPolicy(actions={"IP": "allow", "SSN": "block"}), known_names=["Jane Doe"])
    text = "Jane Doe at 192.0.2.44, SSN 123-45-6789, jane@example.com"
    spans = r.spans(text)
    assert [(s.type, text[s.start:s.end], s.placeholder, s.action) for s in spans] == [
        ("PERSON", "Jane Doe", "[PERSON_1]", "redact"), ("IP", "192.0.2.44", None, "allow"),
        ("SSN", "123-45-6789", None, "block"), ("EMAIL", "jane@example.com", "[EMAIL_1]", "redact")]
    assert r.mapping == {}


# --- DraftContext -------------------------------------------------------------------------

def _context() -> DraftContext:
    return DraftContext(
        subject="Refund for order CUST-123456", sender=Address("Jane Doe", "jane@example.com"),
        latest="Hi Sam, please refund card 4111 1111 1111 1111. Call me on (415) 555-0132. Jane",
        quoted_history="> On Monday Sam Lee <sam@acme.com> wrote:\n> Hi Jane",
        signature="Jane Doe\nHead of Ops", earlier=("Ping from jane@example.com",),
        user_name="Sam Lee", extra={"thread_topic": "Jane's refund"})


def test_redact_context_redacts_every_free_text_field_including_the_users_name():
    r = Redactor(PiiPolicy(custom_patterns={"CUSTOMER_ID": r"CUST-\d{6}"}))
    ctx = redact_context(_context(), r)
    assert ctx.sender == Address("[PERSON_1]", "[EMAIL_1]")
    assert ctx.user_name == "[PERSON_2]"
    assert ctx.subject == "Refund for order [CUSTOMER_ID_1]"
    assert ctx.latest == ("Hi [PERSON_3], please refund card [CARD_1]. Call me on [PHONE_1]. "
                          "[PERSON_4]")
    assert ctx.quoted_history == "> On Monday [PERSON_2] <[EMAIL_2]> wrote:\n> Hi [PERSON_4]"
    assert ctx.signature == "[PERSON_1]\nHead of Ops"
    assert ctx.earlier == ("Ping from [EMAIL_1]",)
    assert ctx.extra == {"thread_topic": "[PERSON_4]'s refund"}
    assert ctx.language == "en"


def test_redact_context_blocks_with_every_blocked_type_named():
    r = Redactor(PiiPolicy(actions={"CARD": "block", "PHONE": "block"}))
    with pytest.raises(PiiBlocked) as info:
        redact_context(_context(), r)
    assert info.value.types == ("CARD", "PHONE")
    assert r.mapping == {}


def test_hostile_input_is_scanned_without_pathological_backtracking():
    # If a detector were quadratic these inputs would take minutes, not milliseconds.
    policy = PiiPolicy(custom_patterns={"REF": r"[A-Z]{1,20}-\d{1,10}"},
                       word_lists={"P": ["Falcon"]})
    r = Redactor(policy, known_names=["Jane Doe"])
    for text in ("a" * 40_000 + "@", "a." * 20_000 + "@x", "1 " * 20_000, "1:" * 20_000,
                 "DE89" * 10_000, "A" * 40_000, "1." * 20_000, "Jane " * 8_000):
        r.redact(text)


def test_an_unpaired_bracket_stays_outside_the_phone_placeholder():
    assert redact("London office (+44 20 7946 0958, ask for Bob)") == \
        "London office ([PHONE_1], ask for Bob)"
