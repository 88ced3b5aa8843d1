"""`replywise draft` and `replywise preview` on a real .eml file."""
from __future__ import annotations

import json
from pathlib import Path

SAMPLE = Path(__file__).parent.parent / "samples" / "invoice-question.eml"


def test_draft_prints_an_offline_draft_for_an_eml_file(run_cli):
    result = run_cli("draft", str(SAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Dear Jane")
    assert "Could you resend the March invoice?" in result.stdout


def test_draft_streams_and_options_change_the_tone(run_cli):
    streamed = run_cli("draft", str(SAMPLE), "--stream", "--tone", "friendly")
    assert streamed.exit_code == 0, streamed.output
    formal = run_cli("draft", str(SAMPLE), "--tone", "formal")
    assert streamed.stdout.strip() != formal.stdout.strip()


def test_draft_json_carries_the_metadata(run_cli):
    result = run_cli("draft", str(SAMPLE), "--json")
    data = json.loads(result.stdout)
    assert data["provider"] == "offline" and data["pii"]["PHONE"] == 1


def test_preview_shows_exactly_what_would_leave_redacted(run_cli):
    result = run_cli("preview", str(SAMPLE))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"latest_message", "quoted_history", "signature", "prompt_messages"}
    assert "the invoice went out this morning" in data["quoted_history"]
    assert "resend the March invoice" in data["latest_message"]
    assert "Jane Doe" in data["signature"] or "ACME" in data["signature"]
    sent = json.dumps(data["prompt_messages"])
    for value in ("+44 20 7946 0958", "jane.doe@acme-example.com", "Jane Doe"):
        assert value not in sent
    assert data["prompt_messages"][0]["role"] == "system"


def test_draft_of_a_missing_file_is_a_clear_error(run_cli):
    result = run_cli("draft", "/nonexistent/file.eml")
    assert result.exit_code != 0
    assert "cannot read" in result.output
