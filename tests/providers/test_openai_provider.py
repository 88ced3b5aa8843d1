"""OpenAIProvider against a real HTTP server speaking the OpenAI protocol, faults included."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from backend.providers.llm.base import (
    CompletionRequest,
    Finished,
    ProviderConfig,
    ProviderError,
    TextDelta,
    Usage,
)
from backend.providers.llm.openai_provider import OpenAIProvider, ReadPace, parse_retry_after
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer, default_reply

MakeProvider = Callable[..., OpenAIProvider]


def _text(events: Iterable[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def _fail(provider: OpenAIProvider, request: CompletionRequest,
          timeout: float = 5.0) -> tuple[ProviderError, list[object]]:
    """Run a stream that must fail; return the error and the events seen before it."""
    seen: list[object] = []
    with pytest.raises(ProviderError) as info:
        for event in provider.stream(request, timeout):
            seen.append(event)
    assert not any(isinstance(e, Finished) for e in seen)
    return info.value, seen


def test_normal_stream_yields_word_deltas_then_one_finished_with_usage(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    events = list(make_provider().stream(completion_request, 5.0))

    *deltas, finished = events
    assert all(isinstance(d, TextDelta) for d in deltas) and len(deltas) > 3
    expected = default_reply([{"role": "user", "content": "Could you send the invoice again?"}])
    assert _text(deltas) == expected
    # The fake server counts words as tokens.
    usage = Usage(prompt_tokens=10, completion_tokens=len(expected.split()))
    assert finished == Finished("stop", "fake-model", usage)


def test_request_carries_messages_model_streaming_flags_and_a_dummy_key(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    list(make_provider().stream(completion_request, 5.0))

    (recorded,) = openai_server.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.body["model"] == "fake-model"
    assert recorded.body["stream"] is True
    assert recorded.body["stream_options"] == {"include_usage": True}
    assert recorded.body["max_tokens"] == 800
    assert recorded.body["messages"] == [
        {"role": "system", "content": "You draft email replies."},
        {"role": "user", "content": "Could you send the invoice again?"}]
    assert recorded.headers["authorization"] == "Bearer not-needed"


def test_openai_kind_sends_the_key_and_max_completion_tokens(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    list(make_provider(kind="openai", api_key="sk-test").stream(completion_request, 5.0))

    (recorded,) = openai_server.requests
    assert recorded.headers["authorization"] == "Bearer sk-test"
    assert recorded.body["max_completion_tokens"] == 800
    assert "max_tokens" not in recorded.body


def test_usage_is_none_when_the_server_sends_no_usage_chunk(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    provider = make_provider(extra={"include_usage": "false"})

    finished = list(provider.stream(completion_request, 5.0))[-1]

    assert finished == Finished("stop", "fake-model", None)
    assert "stream_options" not in openai_server.requests[0].body


def test_azure_uses_the_deployment_path_api_version_and_api_key_header(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.ok("Sure, attached."))

    events = list(make_provider(name="azure-eu", kind="azure").stream(completion_request, 5.0))

    assert _text(events) == "Sure, attached."
    assert events[-1] == Finished("stop", "drafts-gpt", Usage(10, 2))
    (recorded,) = openai_server.requests
    assert recorded.path == "/openai/deployments/drafts-gpt/chat/completions"
    assert recorded.query == {"api-version": ["2024-10-21"]}
    assert recorded.headers["api-key"] == "azure-key"
    assert "authorization" not in recorded.headers


def test_consecutive_streams_reuse_one_pooled_connection(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    provider = make_provider()

    for _ in range(3):
        list(provider.stream(completion_request, 5.0))

    assert len({r.client_port for r in openai_server.requests}) == 1


def test_rate_limit_is_retryable_with_retry_after_seconds(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.rate_limited("7"))

    error, _ = _fail(make_provider(), completion_request)

    assert (error.retryable, error.status, error.retry_after) == (True, 429, 7.0)
    assert error.reason == "rate limited"


def test_rate_limit_prefers_retry_after_ms(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.rate_limited("7", retry_after_ms="1500"))

    error, _ = _fail(make_provider(), completion_request)

    assert error.retry_after == 1.5


def test_rate_limit_accepts_an_http_date(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    openai_server.script(Behaviour.rate_limited(format_datetime(when, usegmt=True)))

    error, _ = _fail(make_provider(), completion_request)

    assert error.retry_after is not None and 25 <= error.retry_after <= 30


def test_exhausted_quota_is_not_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.rate_limited("1", code="insufficient_quota"))

    error, _ = _fail(make_provider(), completion_request)

    assert (error.retryable, error.reason) == (False, "quota exhausted")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest, status: int) -> None:
    openai_server.script(Behaviour.error(status))

    error, _ = _fail(make_provider(), completion_request)

    assert (error.retryable, error.status) == (True, status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest, status: int) -> None:
    openai_server.script(Behaviour.error(status))

    error, _ = _fail(make_provider(), completion_request)

    assert (error.retryable, error.status) == (False, status)


def test_azure_prompt_filter_rejection_is_not_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.error(400, code="content_filter"))

    error, _ = _fail(make_provider(kind="azure"), completion_request)

    assert (error.retryable, error.reason) == (False, "content filtered")


def test_answer_slower_than_the_timeout_is_a_retryable_timeout(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.slow(2.0))

    error, _ = _fail(make_provider(), completion_request, timeout=0.2)

    assert (error.retryable, error.reason) == (True, "timeout")


def test_dropped_connection_mid_stream_is_retryable_and_never_finishes(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.drop_after(3))

    error, seen = _fail(make_provider(), completion_request)

    assert (error.retryable, error.reason) == (True, "connection error")
    assert _text(seen) == "Thank you "


def test_truncated_stream_without_finish_reason_is_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.truncate_after(4))

    error, seen = _fail(make_provider(), completion_request)

    assert (error.retryable, error.reason) == (True, "stream ended without finish reason")
    assert len(seen) == 3


def test_invalid_json_chunk_is_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.invalid_chunk_after(2))

    error, seen = _fail(make_provider(), completion_request)

    assert (error.retryable, error.reason) == (True, "invalid chunk")
    assert len(seen) == 1


def test_error_event_inside_the_stream_is_retryable(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.stream_error_after(2))

    error, _ = _fail(make_provider(), completion_request)

    assert (error.retryable, error.reason) == (True, "upstream error in stream")


def test_content_filter_finish_is_a_non_retryable_error(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    openai_server.script(Behaviour.content_filter("I cannot"))

    error, seen = _fail(make_provider(), completion_request)

    assert (error.retryable, error.reason) == (False, "content filtered")
    assert seen == [TextDelta("I "), TextDelta("cannot")]


def test_losing_only_the_usage_chunk_after_the_finish_still_finishes(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    # Events: role, "Sure ", "thing", finish -- then the socket drops before usage and [DONE].
    openai_server.script(Behaviour(kind="drop", text="Sure thing", after_events=4))

    events = list(make_provider().stream(completion_request, 5.0))

    assert events[-1] == Finished("stop", "fake-model", None)
    assert _text(events) == "Sure thing"


def test_abandoning_a_stream_releases_the_connection_for_the_next_call(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    provider = make_provider()
    openai_server.script(Behaviour.ok("one two three four", delay_between_chunks_s=0.05))
    stream = provider.stream(completion_request, 5.0)

    assert next(stream) == TextDelta("one ")
    stream.close()  # type: ignore[attr-defined]  # it is a generator

    assert isinstance(list(provider.stream(completion_request, 5.0))[-1], Finished)


@pytest.mark.parametrize("config", [
    ProviderConfig(name="o", kind="openai", model="gpt-4o-mini"),
    ProviderConfig(name="a", kind="azure", base_url="https://x.example", api_key="k",
                   deployment="d"),
    ProviderConfig(name="c", kind="compatible", model="llama3"),
    ProviderConfig(name="c", kind="compatible", base_url="http://127.0.0.1:1/v1"),
])
def test_incomplete_configuration_is_refused_at_start_up(config: ProviderConfig) -> None:
    with pytest.raises(ValueError):
        OpenAIProvider(config)


def test_parse_retry_after_handles_each_header_form() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 01 Jan 2025 12:00:10 GMT"}, now=now) == 10.0
    assert parse_retry_after({"retry-after": "Wed, 01 Jan 2025 11:59:00 GMT"}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-4"}) is None
    assert parse_retry_after({}) is None


def test_server_sent_events_are_read_per_the_format() -> None:
    from backend.providers.llm.openai_provider import sse_data

    body = (b'\xef\xbb\xbf: keep-alive\n\nevent: message\ndata: {"a":\ndata:1}\nid: 7\n\n'
            b'data: {"b":"\xc3\xa9"}\r\n\r\ndata: {"c":3}\r\rdata: [DONE]')
    expected = [b'{"a":\n1}', b'{"b":"\xc3\xa9"}', b'{"c":3}', b"[DONE]"]
    assert list(sse_data([body])) == expected
    # However the body is cut into chunks (a CRLF or a UTF-8 character split in two included),
    # the same events come out.
    for size in (1, 2, 3, 7, 16):
        pieces = [body[i:i + size] for i in range(0, len(body), size)]
        assert list(sse_data(pieces)) == expected, size
    assert list(sse_data([b"\n\nretry: 10\n\n"])) == []


def test_more_concurrent_streams_than_the_sdk_default_keep_their_connections(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    """A worker streams hundreds of drafts at once; with the SDK's 100 idle connections,
    every draft past the hundredth paid a new connection (a TLS handshake against a real
    provider) before its first word."""
    import threading

    provider = make_provider()
    streams = 130
    openai_server.set_default(Behaviour.ok("Thanks.", latency_s=0.3))
    for _ in range(2):  # the second round must find all its connections idle in the pool
        barrier = threading.Barrier(streams)
        failures: list[BaseException] = []

        def one() -> None:
            try:
                barrier.wait(timeout=10)  # all streams open at the same time
                assert _text(provider.stream(completion_request, 10.0)) == "Thanks."
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        threads = [threading.Thread(target=one) for _ in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not failures
    first, second = openai_server.requests[:streams], openai_server.requests[streams:]
    assert len(second) == streams
    assert {r.client_port for r in second} <= {r.client_port for r in first}


def _delta_times(provider: OpenAIProvider, request: CompletionRequest) -> tuple[float, list[float],
                                                                              str]:
    """(when the stream was asked for, when each delta arrived, the text), monotonic seconds."""
    import time
    began, times, text = time.monotonic(), [], []
    for event in provider.stream(request, 10.0):
        if isinstance(event, TextDelta):
            times.append(time.monotonic())
            text.append(event.text)
    return began, times, "".join(text)


def test_coalescing_reads_tokens_that_arrive_close_together_in_fewer_wake_ups(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    words = " ".join(f"w{i}" for i in range(12))
    openai_server.set_default(Behaviour.ok(words, delay_between_chunks_s=0.03))
    # Each token alone: the thread wakes for every chunk, 30 ms apart.
    began, every, text = _delta_times(make_provider(coalesce_ms=0), completion_request)
    assert text == words
    assert sum(1 for a, b in zip(every, every[1:]) if b - a > 0.015) >= 8
    # Reading at most every 200 ms: the chunks that came meanwhile are read in one go.
    began, batched, text = _delta_times(make_provider("batched", coalesce_ms=200),
                                        completion_request)
    assert text == words
    assert batched[0] - began < 0.15  # the first words are not held back
    assert sum(1 for a, b in zip(batched, batched[1:]) if b - a > 0.015) <= 4
    stream = 0.03 * (len(words.split()) + 1)  # the server's own pace, finish chunk included
    assert batched[-1] - began < stream + 0.2 + 0.25  # at most one pause more, plus slack


def test_a_stream_slower_than_the_coalescing_window_is_read_chunk_by_chunk(
        make_provider: MakeProvider, openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pausing a slow stream only adds a wake-up (the pause's end) to every chunk's own."""
    import threading
    import time

    reader, sleep, pauses = threading.get_ident(), time.sleep, []

    def counted_sleep(seconds: float) -> None:  # the fake server's threads sleep too
        if threading.get_ident() == reader:
            pauses.append(seconds)
        sleep(seconds)

    monkeypatch.setattr(time, "sleep", counted_sleep)
    words = " ".join(f"w{i}" for i in range(6))
    openai_server.set_default(Behaviour.ok(words, delay_between_chunks_s=0.12))
    began, times, text = _delta_times(make_provider(coalesce_ms=50), completion_request)
    assert pauses == []
    assert text == words
    # Each delta follows its own chunk (120 ms apart) rather than a pause's end.
    assert len(times) == 6 and all(b - a > 0.08 for a, b in zip(times, times[1:]))


def _paced(pace: ReadPace, arrivals: list[float]) -> list[tuple[float, bool]]:
    """Drive `pace` as the provider does over chunks arriving at these times (seconds, from
    0): per read, (the pause it asked for after it, whether the read had to wait)."""
    now, out, pending = 0.0, [], sorted(arrivals)
    while pending:
        asked = now
        waited = pending[0] > now
        now = max(now, pending.pop(0))  # a read blocks until the next chunk is there
        pace.read(asked, now)
        pause = pace.pause(now)
        out.append((round(pause, 3), waited))
        now += max(pause, 0.0)
    return out


def test_read_pace_pauses_only_while_chunks_come_faster_than_the_window() -> None:
    slow = _paced(ReadPace(0.05), [0.5 + 0.1 * i for i in range(6)])
    assert slow == [(0.0, True)] * 6  # every chunk read the moment it comes
    fast = _paced(ReadPace(0.05), [0.5 + 0.02 * i for i in range(20)])
    assert fast[:2] == [(0.0, True)] * 2  # the first words go out at once
    assert fast[2] == (0.05, True)  # two gaps of 20 ms in a row: wait a window for more
    woken = sum(1 for _, waited in fast if waited)
    assert woken <= 12 and len(fast) == 20  # every chunk read, most without a wake-up of its own
    # One short gap is a slow stream whose previous chunk a busy worker read late: no pause.
    late = _paced(ReadPace(0.05), [0.5, 0.66, 0.7, 0.8, 0.9, 1.0])
    assert late == [(0.0, True)] * 6
    # A pause that nothing arrived in ends the pausing: the stream slowed down.
    slowed = _paced(ReadPace(0.05), [0.5, 0.52, 0.54, 0.8, 1.0, 1.03, 1.2])
    assert slowed[2][0] == 0.05 and slowed[3:] == [(0.0, True)] * 4
    assert _paced(ReadPace(0.0), [0.5, 0.501, 0.502]) == [(0.0, True)] * 3
