"""The load test's instruments read and write HTTP correctly: a miscounted draft or a wrong
time would be a wrong benchmark (scripts/bench/draft_client.py, scripts/bench/async_upstream.py).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket
import time
from pathlib import Path

import pytest

from scripts.bench.async_upstream import Upstream
from scripts.bench.draft_client import DraftConnection, DraftResponse, ResponseError

ROOT = Path(__file__).resolve().parents[1]


def _chunked(*payloads: bytes, head: bytes = b"HTTP/1.1 200 OK\r\nContent-Type: "
             b"text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n") -> bytes:
    return head + b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in payloads) + \
        b"0\r\n\r\n"


STREAM = _chunked(b"event: delta\ndata: {\"text\": \"Hello\"}\n\n",
                  b"event: delta\ndata: {\"text\": \" there\"}\n\n",
                  b"event: done\ndata: {\"id\": \"d42\", \"text\": \"Hello there\"}\n\n")


def _feed_in_pieces(data: bytes, size: int) -> tuple[DraftResponse, list[bool]]:
    response = DraftResponse(sent=100.0)
    results = [response.feed(data[i:i + size], now=100.0 + i)
               for i in range(0, len(data), size)]
    return response, results


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(STREAM)])
def test_a_streamed_draft_is_read_whole_however_its_bytes_are_split(size):
    response, results = _feed_in_pieces(STREAM, size)

    assert results[-1] is True and not any(results[:-1])
    assert (response.status, response.draft_id, response.keep) == (200, "d42", True)
    assert response.error_event is False
    # The first delta is stamped with the piece that completed its HTTP chunk (the chunk's
    # closing CRLF), the end with the piece that held the last byte.
    first = STREAM.index(b"\n\n\r\n") + 3
    assert response.ttfb == pytest.approx(first - first % size)
    assert response.ended == 100.0 + (len(STREAM) - 1) - (len(STREAM) - 1) % size


def test_a_marker_split_across_two_http_chunks_still_counts():
    data = _chunked(b"event: del", b"ta\ndata: {}\n\n", b"event: done\ndata: {\"id\": \"x\"}\n\n")
    response = DraftResponse(sent=0.0)

    assert response.feed(data, now=3.0) is True
    assert (response.ttfb, response.draft_id) == (3.0, "x")


def test_an_error_event_and_a_missing_done_event_are_reported():
    response = DraftResponse(sent=0.0)
    response.feed(_chunked(b"event: error\ndata: {\"error\": \"boom\"}\n\n"), now=1.0)

    assert (response.error_event, response.draft_id, response.ttfb) == (True, "", None)


def test_a_refusal_with_a_length_is_complete_after_its_body():
    body = json.dumps({"error": "rate_limited"}).encode()
    head = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    response = DraftResponse(sent=0.0)

    assert response.feed(head + body[:-1], now=1.0) is False
    assert response.feed(body[-1:], now=2.0) is True
    assert (response.status, response.keep, response.ended) == (429, False, 2.0)
    assert (response.error_code, response.retry_after) == ("", None)  # not the envelope


def test_an_error_envelope_gives_its_code_and_retry_after():
    body = json.dumps({"error": {"code": "overloaded", "message": "busy"}}).encode()
    head = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 5\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    response = DraftResponse(sent=0.0)

    assert response.feed(head + body, now=1.0) is True
    assert (response.status, response.error_code, response.retry_after) == (503, "overloaded", 5.0)
    assert response.keep and response.draft_id == ""


@pytest.mark.parametrize("data, reason", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd", "not followed by CRLF"),
    (b"garbage\r\n\r\n", "bad status line"),
    (_chunked(b"event: done\ndata: {\"no\": 1}\n\n"), "without a draft id"),
])
def test_bytes_that_are_not_a_valid_response_raise(data, reason):
    with pytest.raises(ResponseError, match=reason):
        DraftResponse(sent=0.0).feed(data, now=1.0)


def _exchange(answer, timeout: float = 5.0) -> DraftResponse:
    """_exchange_with on an event loop of its own, in a thread: other tests in the suite (the
    browser's sync API) may leave a loop running in the main thread, where asyncio.run refuses
    to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(_exchange_with(answer, timeout))).result()


async def _exchange_with(answer, timeout: float = 5.0) -> DraftResponse:
    """One request through DraftConnection to a local server that runs `answer(writer)`."""
    handlers = []

    async def serve(reader, writer):
        handlers.append(asyncio.current_task())
        await reader.readuntil(b"\r\n\r\n")
        await answer(writer)
        try:
            await reader.read()  # until the client closes (a timed-out exchange closes it)
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(DraftConnection, "127.0.0.1", port)
        try:
            return await connection.exchange(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
                                             time.perf_counter(), timeout)
        finally:
            connection.close()
    finally:
        server.close()
        await asyncio.wait_for(asyncio.gather(*handlers), 5)  # each ends when the client closes
        await server.wait_closed()


def test_a_connection_reads_a_response_sent_in_timed_pieces():
    async def answer(writer):
        for piece in (STREAM[:90], STREAM[90:200], STREAM[200:]):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)

    response = _exchange(answer)
    assert (response.status, response.draft_id) == (200, "d42")
    assert response.ended > response.sent


def test_a_connection_closed_mid_response_fails_the_exchange():
    async def answer(writer):
        writer.write(STREAM[:120])
        await writer.drain()
        writer.close()

    with pytest.raises(ResponseError, match="closed before the response ended"):
        _exchange(answer)


def test_a_response_that_never_ends_times_out():
    async def answer(writer):  # then the server waits for the client, sending nothing more
        writer.write(STREAM[:120])
        await writer.drain()

    with pytest.raises(ResponseError, match="timed out"):
        _exchange(answer, timeout=0.2)


def test_the_upstream_sends_each_word_once_in_order_with_a_finish():
    upstream = Upstream(latency=0, chunk_delay=0, text="Hello,\n\nsee you soon.")

    events = upstream._encoded("m", 1700000000)

    assert upstream._encoded("m", 1700000000) is events  # encoded once per second
    decoded = [json.loads(e.split(b"data: ", 1)[1].split(b"\n\n", 1)[0]) for e in events]
    assert decoded[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(d["choices"][0]["delta"]["content"] for d in decoded[1:-1]) == \
        "Hello,\n\nsee you soon."
    assert decoded[-1]["choices"][0]["finish_reason"] == "stop"
    assert {d["created"] for d in decoded} == {1700000000}
    assert upstream._encoded("m", 1700000001) is not events


def test_the_upstream_streams_a_whole_completion_the_provider_reads():
    """The load upstream, served for real, answers the service's own OpenAI provider with every
    word, a finish reason and usage, on its configured schedule."""
    import subprocess
    import sys

    from backend.drafting.model import Address, ChatMessage, DraftContext, DraftOptions
    from backend.providers.llm.base import CompletionRequest, Finished, ProviderConfig, TextDelta
    from backend.providers.llm.openai_provider import OpenAIProvider

    port = _free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/bench/async_upstream.py"), "--port", str(port),
         "--latency", "0.05", "--chunk-delay", "0.01", "--text", "Hello,\n\nsee you soon."],
        stdout=subprocess.PIPE)
    try:
        assert b"load upstream on" in upstream.stdout.readline()
        provider = OpenAIProvider(ProviderConfig(name="load", kind="compatible", model="m",
                                                 base_url=f"http://127.0.0.1:{port}/v1"))
        request = CompletionRequest(
            messages=(ChatMessage("user", "x" * 400),), max_tokens=50,
            context=DraftContext(subject="s", sender=Address("Ann", "ann@example.com"),
                                 latest="x"), options=DraftOptions())
        started = time.perf_counter()
        for _ in range(2):  # twice on one kept-alive connection
            events = list(provider.stream(request, timeout=10))
        took = time.perf_counter() - started
        provider.close()
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        upstream.stdout.close()

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello,\n\nsee you soon."
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "stop"
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens) == (100, 3)
    assert took >= 2 * (0.05 + 5 * 0.01)  # latency, then words, finish and usage 10 ms apart


def _free_port() -> int:
    """A free local port (released before the upstream binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the load test's users: closed loop (back to back) and open loop (--rate) -------------------

def _loadtest_module():
    """scripts/loadtest (a script without a .py name) as a module."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("loadtest_script",
                                                  str(ROOT / "scripts" / "loadtest"))
    import sys
    if loader.name in sys.modules:
        return sys.modules[loader.name]
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module  # dataclasses look their module up while it executes
    loader.exec_module(module)
    return module


def _refusal(code: str, retry_after: int) -> bytes:
    body = json.dumps({"error": {"code": code, "message": "busy"}}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: " + str(retry_after).encode() + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def _drive(answers: list[bytes], run) -> tuple[list[float], int]:
    """Serve `answers` in order (then the stream) to whatever `run(port, ready)` sends (`ready`:
    an Event already set, as the load test's start signal), on a loop in a thread of its own:
    (when each request arrived, connections opened)."""
    arrived: list[float] = []
    connections = []

    async def serve(reader, writer):
        connections.append(asyncio.current_task())
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                arrived.append(time.monotonic())
                writer.write(answers.pop(0) if answers else STREAM)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        try:
            ready = asyncio.Event()
            ready.set()
            await run(server.sockets[0].getsockname()[1], ready)
        finally:
            server.close()
            await asyncio.wait_for(asyncio.gather(*connections), 5)  # each ends as its client closes
            await server.wait_closed()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(main())).result()
    return arrived, len(connections)


def _args(**changes):
    import argparse
    values = dict(users=10, tenants=2, timeout=5.0, ramp_up=0.0, concurrency=1, rate=0.0,
                  ignore_retry_after=False)
    return argparse.Namespace(**{**values, **changes})


def test_a_refused_user_waits_out_retry_after_before_drafting_again():
    loadtest = _loadtest_module()
    stats = loadtest.Stats(remaining=3)

    arrived, connections = _drive([_refusal("overloaded", 1)], lambda port, ready:
                                  loadtest.virtual_user(0, port, _args(), stats, ready))
    assert len(arrived) == 3 and connections == 1  # one keep-alive connection throughout
    assert arrived[1] - arrived[0] >= 0.95  # the pane's countdown
    assert arrived[2] - arrived[1] < 0.9
    assert dict(stats.errors) == {"HTTP 503 overloaded": 1} and len(stats.ids) == 2
    assert len(stats.failed_in) == 1 and stats.failed_in[0] < 0.9


def test_open_loop_arrivals_keep_coming_while_drafts_are_refused():
    loadtest = _loadtest_module()
    stats = loadtest.Stats(remaining=30)

    arrived, connections = _drive([_refusal("overloaded", 5)] * 10, lambda port, ready:
                                  loadtest.arrivals(port, _args(rate=200.0), stats, ready))
    assert len(arrived) == 30 and stats.done == 30
    assert dict(stats.errors) == {"HTTP 503 overloaded": 10} and len(stats.ids) == 20
    # No user waits out the refusals: arrivals do not depend on answers (all in ~0.15 s).
    assert arrived[-1] - arrived[0] < 4
    assert connections < 30  # idle connections are reused
