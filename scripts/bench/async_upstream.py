"""An OpenAI-compatible streaming upstream on asyncio, for load tests only.

tests/fakes/openai_server.py is the test double (every fault, a thread per connection). Holding
a thousand slow streams, a thread per connection measures the fake: its threads fight over one
interpreter and it adds seconds of its own at p99 on two cores. This one serves only what a
load test needs -- a streamed chat completion after a fixed latency, one chunk per word at a
fixed pace, then the finish chunk, the usage chunk and [DONE] -- from one event loop.

    python scripts/bench/async_upstream.py --port 8099 --latency 2.0 --chunk-delay 0.01
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import time


def _chunk(model: str, created: int, delta: dict, finish: str | None = None, *,
           usage: dict | None = None) -> bytes:
    event = {"id": "chatcmpl-load", "object": "chat.completion.chunk", "created": created,
             "model": model,
             "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        event["usage"] = usage
    return _http_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")


def _http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class Upstream:
    def __init__(self, latency: float, chunk_delay: float, text: str) -> None:
        self.latency, self.chunk_delay = latency, chunk_delay
        self.words = text.split(" ")
        # How late each stream's first and last events left against their schedule, seconds:
        # what this instrument adds to the times the load test measures (GET /lateness).
        self.late_first: list[float] = []
        self.late_last: list[float] = []
        # The worst lateness of any first or last event per wall-clock minute (epoch seconds //
        # 60), to set beside the load test's own minutes.
        self.worst_by_minute: dict[int, float] = {}
        # The encoded events of the latest (model, created second): every stream that starts
        # in the same second sends the same bytes, and this instrument shares the machine with
        # the service it measures, so it encodes them once rather than once per stream.
        self._events_key: tuple[str, int] | None = None
        self._events: list[bytes] = []

    def _encoded(self, model: str, created: int) -> list[bytes]:
        """The role chunk, one chunk per word, and the finish chunk, HTTP-framed."""
        if self._events_key != (model, created):
            last = len(self.words) - 1
            self._events = [_chunk(model, created, {"role": "assistant", "content": ""}),
                            *(_chunk(model, created, {"content": w if i == last else w + " "})
                              for i, w in enumerate(self.words)),
                            _chunk(model, created, {}, "stop")]
            self._events_key = (model, created)
        return self._events

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, v in
                           (line.split(":", 1) for line in lines[1:] if ":" in line)}
                body = json.loads(await reader.readexactly(int(headers.get("content-length",
                                                                           "0"))) or b"{}")
                if lines[0].startswith("GET /lateness"):
                    self._lateness(writer, reset="reset" in lines[0])
                    continue
                await self._answer(writer, body)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, body: dict) -> None:
        model = body.get("model") or "load-model"
        if not body.get("stream"):
            payload = b'{"error": {"message": "this load upstream only streams"}}'
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            return
        # Every event has a fixed time from the request's arrival, like a provider's own
        # schedule: when this one loop serving a thousand streams runs late, the lateness
        # does not add up over the chunks of a stream.
        loop = asyncio.get_running_loop()
        begun = loop.time()

        async def at(offset: float) -> float:
            await asyncio.sleep(max(0.0, begun + offset - loop.time()))
            return loop.time() - (begun + offset)

        self.late_first.append(self._note(await at(self.latency)))
        created = int(time.time())
        events = self._encoded(model, created)
        if writer.is_closing():
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + events[0])
        for index, event in enumerate(events[1:], start=1):  # the words, then the finish
            await at(self.latency + index * self.chunk_delay)
            if writer.is_closing():  # the service gave up on this stream (its deadline)
                return
            writer.write(event)
        # The same schedule as tests/fakes/openai_server.py (a delay before every event after
        # the first), which scripts/loadtest's configured upstream time assumes.
        self.late_last.append(self._note(
            await at(self.latency + (len(self.words) + 2) * self.chunk_delay)))
        if writer.is_closing():
            return
        prompt = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4
        writer.write(_chunk(model, created, {}, usage={
            "prompt_tokens": prompt, "completion_tokens": len(self.words),
            "total_tokens": prompt + len(self.words)}))
        writer.write(_http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()


    def _note(self, late: float) -> float:
        minute = int(time.time() // 60)
        self.worst_by_minute[minute] = max(late, self.worst_by_minute.get(minute, 0.0))
        return late

    def _lateness(self, writer: asyncio.StreamWriter, reset: bool) -> None:
        def ms(values: list[float], p: float) -> float:
            ordered = sorted(values) or [0.0]
            return round(ordered[min(len(ordered) - 1, int(p / 100 * (len(ordered) - 1)))]
                         * 1000, 1)

        payload = json.dumps({"streams": len(self.late_last), **{
            f"{name}_p{p}_ms": ms(values, p) for name, values in
            (("first", self.late_first), ("last", self.late_last)) for p in (50, 99, 100)},
            "worst_by_minute_ms": {minute: round(late * 1000, 1)
                                   for minute, late in self.worst_by_minute.items()},
        }).encode()
        if reset:
            self.late_first.clear()
            self.late_last.clear()
            self.worst_by_minute.clear()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds before the first byte")
    parser.add_argument("--chunk-delay", type=float, default=0.01, help="seconds between chunks")
    parser.add_argument("--text", default="Hello,\n\nthank you for your message.")
    args = parser.parse_args()
    upstream = Upstream(args.latency, args.chunk_delay, args.text)
    server = await asyncio.start_server(upstream.serve, args.host, args.port, backlog=4096)
    # A load instrument must not pause: a collector pass in this one loop delays every
    # stream's next chunk, which the load test would count as the service's overhead. What it
    # allocates per stream is freed by reference counting (scripts/loadtest reports its RSS).
    gc.collect()
    gc.freeze()
    gc.disable()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"load upstream on http://{args.host}:{args.port}/v1", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    try:  # uvloop when installed (the test extra has it): a punctual schedule needs a fast loop
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
