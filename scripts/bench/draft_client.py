"""The load test's HTTP client for streamed drafts: one asyncio Protocol per keep-alive
connection, parsing each response incrementally as its bytes arrive.

Why a Protocol and not StreamReader: the client shares the benchmark machine with the service,
and every CPU millisecond it spends is one the service under test does not get. A streamed
draft is some twenty HTTP chunks; through StreamReader each chunk cost two awaits (a future and
a wake-up each) plus a buffer split, while here it is one `data_received` call that walks the
chunk framing in place. It also stamps the time when the bytes arrive, not when a coroutine
next gets the loop, so the client's own scheduling adds less to what it measures.
"""
from __future__ import annotations

import asyncio
import json
import time

_DELTA = b"event: delta"
_HEAD_END = b"\r\n\r\n"


class ResponseError(Exception):
    """The response could not be read: closed early, timed out, or not valid HTTP/1.1."""


class DraftResponse:
    """One HTTP/1.1 response to POST /api/v1/drafts, fed in pieces (`feed`) as they arrive.

    When complete: `status`, `ttfb` (seconds from `sent` to the piece holding the first delta
    event, None if there was none), `draft_id` (from the done event, "" if none), `error_event`
    (an error event was streamed), `keep` (the server keeps the connection) and `ended` (when
    its last byte arrived); for an error answer, `error_code` (the envelope's code) and
    `retry_after` (seconds, from Retry-After)."""

    __slots__ = ("sent", "status", "ttfb", "draft_id", "error_event", "keep", "ended",
                 "error_code", "retry_after", "_buffer", "_state", "_left", "_payloads", "_tail")

    def __init__(self, sent: float) -> None:
        self.sent = sent
        self.status = 0
        self.ttfb: float | None = None
        self.draft_id = ""
        self.error_event = False
        self.keep = True
        self.ended: float | None = None
        self.error_code = ""
        self.retry_after: float | None = None
        self._buffer = b""
        self._state = "head"  # head, length, size, data, last
        self._left = 0  # bytes still due in state "length" or "data" (data: with its CRLF)
        self._payloads: list[bytes] = []
        self._tail = b""  # the end of the body so far: a marker may straddle two chunks

    def feed(self, data: bytes, now: float) -> bool:
        """Take the next bytes, received at perf_counter() time `now`; True when complete.
        Raises ResponseError on bytes that are not a valid response."""
        buffer = self._buffer + data if self._buffer else data
        position = 0
        while True:
            state = self._state
            if state == "head":
                end = buffer.find(_HEAD_END, position)
                if end < 0:
                    break
                self._read_head(buffer[position:end])
                position = end + 4
            elif state == "size" or state == "last":
                end = buffer.find(b"\r\n", position)
                if end < 0:
                    break
                line = buffer[position:end]
                position = end + 2
                if state == "last":
                    return self._complete(now)
                try:
                    self._left = int(line.split(b";", 1)[0], 16) + 2
                except ValueError:
                    raise ResponseError(f"bad chunk size {line[:20]!r}") from None
                self._state = "data" if self._left > 2 else "last"
            elif state == "data":
                if len(buffer) - position < self._left:
                    break
                payload = buffer[position:position + self._left - 2]
                if buffer[position + self._left - 2:position + self._left] != b"\r\n":
                    raise ResponseError("chunk not followed by CRLF")
                position += self._left
                self._body(payload, now)
                self._state = "size"
            else:  # length
                if len(buffer) - position < self._left:
                    break
                self._payloads.append(buffer[position:position + self._left])
                position += self._left
                return self._complete(now)
        self._buffer = buffer[position:]
        return False

    def _read_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        try:
            self.status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            raise ResponseError(f"bad status line {lines[0][:40]!r}") from None
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:] if ":" in line)}
        self.keep = headers.get("connection", "").lower() != "close"
        try:
            self.retry_after = float(headers["retry-after"])
        except (KeyError, ValueError):
            pass  # absent, or an HTTP date (the service sends seconds)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            self._state = "size"
        else:
            self._state = "length"
            self._left = int(headers.get("content-length", "0"))

    def _body(self, payload: bytes, now: float) -> None:
        self._payloads.append(payload)
        if self.ttfb is None:
            if _DELTA in self._tail + payload:
                self.ttfb = now - self.sent
            self._tail = payload[-len(_DELTA):]

    def _complete(self, now: float) -> bool:
        self.ended = now
        self._buffer = b""
        if self.status != 200:
            try:
                self.error_code = str(json.loads(b"".join(self._payloads))["error"]["code"])
            except (KeyError, TypeError, ValueError):
                pass  # not the service's envelope: the status says enough
            return True
        for event in b"".join(self._payloads).split(b"\n\n"):
            if event.startswith(b"event: done"):
                try:
                    self.draft_id = json.loads(event.split(b"data: ", 1)[1])["id"]
                except (IndexError, KeyError, TypeError, ValueError):
                    raise ResponseError("done event without a draft id") from None
            elif event.startswith(b"event: error"):
                self.error_event = True
        return True


class DraftConnection(asyncio.Protocol):
    """One keep-alive connection to the service, one request at a time (`exchange`)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._response: DraftResponse | None = None
        self._done: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def exchange(self, request: bytes, sent: float, timeout: float) -> asyncio.Future:
        """Send `request`; the future resolves to its DraftResponse, or fails with
        ResponseError when the response is broken, cut or later than `timeout` seconds."""
        loop = asyncio.get_running_loop()
        self._response = DraftResponse(sent)
        self._done = loop.create_future()
        self._timer = loop.call_later(timeout, self._fail, ResponseError("timed out"))
        self.transport.write(request)
        return self._done

    def data_received(self, data: bytes) -> None:
        response = self._response
        if response is None:  # after a failure, while the connection closes
            return
        try:
            complete = response.feed(data, time.perf_counter())
        except ResponseError as exc:
            return self._fail(exc)
        if complete:
            self._settle(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ResponseError("connection closed before the response ended"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _settle(self, response: DraftResponse) -> None:
        done, self._done, self._response = self._done, None, None
        self._timer.cancel()
        if done is not None and not done.done():
            done.set_result(response)

    def _fail(self, error: ResponseError) -> None:
        done, self._done, self._response = self._done, None, None
        if done is None:
            return
        self._timer.cancel()
        self.close()  # a connection in an unknown state is not reused
        if not done.done():
            done.set_exception(error)
