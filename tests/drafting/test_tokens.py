"""Token estimates and fitting email context into a budget, newest content first."""
from __future__ import annotations

import pytest

from backend.drafting.tokens import (
    MARKER,
    ContextParts,
    estimate_tokens,
    fit_to_budget,
    truncate_end,
    truncate_middle,
)


def words(prefix: str, count: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(count))


def test_empty_text_costs_nothing():
    assert estimate_tokens("") == 0


def test_latin_text_costs_about_a_token_per_four_characters():
    assert estimate_tokens("a" * 400) == 100
    assert estimate_tokens("Hello") == 2  # rounded up


def test_cjk_characters_cost_about_one_token_each():
    assert estimate_tokens("日本語のメールです") == 9
    assert estimate_tokens("안녕하세요") == 5


def test_other_alphabets_cost_about_a_token_per_two_characters():
    assert estimate_tokens("Привет" * 10) == 30
    assert estimate_tokens("Γειά σου") > estimate_tokens("Hello you")


def test_accented_latin_is_estimated_on_the_safe_side():
    plain, accented = "Gruesse aus Muenchen", "Grüße aus München"
    assert estimate_tokens(accented) >= estimate_tokens(plain) - 1


def test_short_text_is_not_truncated():
    assert truncate_middle("Can you send it?", 100) == "Can you send it?"
    assert truncate_end("Can you send it?", 100) == "Can you send it?"


def test_truncate_middle_keeps_the_beginning_and_the_end():
    text = words("w", 400)
    out = truncate_middle(text, 60)
    assert out.startswith("w0 w1 w2")
    assert out.endswith("w398 w399")
    assert f"\n{MARKER}\n" in out
    assert "w200" not in out


def test_truncate_end_keeps_the_beginning():
    out = truncate_end(words("w", 400), 60)
    assert out.startswith("w0 w1")
    assert out.endswith(MARKER)
    assert "w399" not in out


@pytest.mark.parametrize("text", [
    words("word", 2000),
    "日本語のメールです。" * 300,
    "日本語" * 300 + words(" latin", 1500),
    "Привет, как дела? " * 400,
])
@pytest.mark.parametrize("limit", [20, 57, 300])
def test_truncation_always_fits_the_limit(text, limit):
    assert estimate_tokens(truncate_middle(text, limit)) <= limit
    assert estimate_tokens(truncate_end(text, limit)) <= limit


def test_truncation_cuts_between_words():
    kept = truncate_middle(words("token", 500), 80).replace(f"\n{MARKER}\n", " ").split()
    assert all(w.startswith("token") and w[5:].isdigit() for w in kept)


def test_a_limit_too_small_for_the_marker_leaves_nothing():
    assert truncate_middle(words("w", 100), 1) == ""


def test_budget_keeps_everything_that_fits():
    parts = ContextParts("latest", ("first", "second"), "> history")
    fitted = fit_to_budget(parts, 1000)
    assert (fitted.latest, fitted.earlier, fitted.quoted_history) == (
        "latest", ("first", "second"), "> history")
    assert fitted.earlier_dropped == 0 and not fitted.history_truncated
    assert fitted.tokens == sum(map(estimate_tokens, ["latest", "first", "second", "> history"]))


def test_budget_keeps_the_newest_message_and_drops_the_oldest_thread_messages_first():
    oldest, middle, newest = words("old", 100), words("mid", 100), words("new", 100)
    latest = words("latest", 50)
    fitted = fit_to_budget(ContextParts(latest, (oldest, middle, newest)),
                           estimate_tokens(latest) + estimate_tokens(newest) + 10)
    assert fitted.latest == latest
    assert fitted.earlier == (newest,)
    assert fitted.earlier_dropped == 2


def test_kept_earlier_messages_stay_oldest_first():
    earlier = tuple(words(f"m{n}x", 20) for n in range(5))
    fitted = fit_to_budget(ContextParts("hi", earlier), 3 * estimate_tokens(earlier[0]) + 5)
    assert fitted.earlier == earlier[2:]


def test_an_earlier_message_that_does_not_fit_is_shortened_when_room_is_worth_it():
    newest = words("new", 400)
    fitted = fit_to_budget(ContextParts("latest", (words("old", 50), newest)), 300)
    assert len(fitted.earlier) == 1
    assert fitted.earlier[0].startswith("new0") and MARKER in fitted.earlier[0]
    assert fitted.earlier_truncated and fitted.earlier_dropped == 1


def test_quoted_history_only_gets_what_is_left():
    latest, earlier, history = words("l", 20), words("e", 20), words("h", 2000)
    fitted = fit_to_budget(ContextParts(latest, (earlier,), history), 400)
    assert fitted.latest == latest and fitted.earlier == (earlier,)
    assert fitted.quoted_history.startswith("h0 h1") and fitted.quoted_history.endswith(MARKER)
    assert fitted.history_truncated


def test_quoted_history_is_dropped_when_no_useful_room_is_left():
    latest = words("l", 100)
    fitted = fit_to_budget(ContextParts(latest, (), words("h", 500)), estimate_tokens(latest) + 5)
    assert fitted.quoted_history == "" and fitted.history_truncated


def test_an_oversized_latest_message_keeps_its_start_and_end():
    latest = "Hello Bob, quick one. " + words("filler", 3000) + " Can you confirm by Friday?"
    fitted = fit_to_budget(ContextParts(latest, (words("e", 60),), words("h", 60)), 200)
    assert fitted.latest_truncated
    assert fitted.latest.startswith("Hello Bob, quick one.")
    assert fitted.latest.endswith("Can you confirm by Friday?")
    assert fitted.earlier == () and fitted.quoted_history == ""


@pytest.mark.parametrize("budget", [0, 30, 100, 333, 1000, 5000])
def test_fitted_context_never_exceeds_the_budget(budget):
    parts = ContextParts(words("l", 300), tuple(words(f"e{i}_", 150) for i in range(6)),
                         words("h", 1000))
    fitted = fit_to_budget(parts, budget, part_overhead=7)
    assert fitted.tokens <= budget
    kept = [fitted.latest, *fitted.earlier, fitted.quoted_history]
    overhead = 7 * sum(1 for k in kept if k)
    assert sum(map(estimate_tokens, kept)) + overhead == fitted.tokens


def test_part_overhead_is_charged_for_each_kept_part():
    parts = ContextParts("latest", ("a", "b"), "h")
    assert fit_to_budget(parts, 1000, part_overhead=10).tokens == (
        fit_to_budget(parts, 1000).tokens + 40)


def test_empty_earlier_messages_are_ignored():
    fitted = fit_to_budget(ContextParts("latest", ("", "  ", "real")), 100)
    assert fitted.earlier == ("real",) and fitted.earlier_dropped == 0


def test_negative_budget_is_rejected():
    with pytest.raises(ValueError):
        fit_to_budget(ContextParts("x"), -1)
