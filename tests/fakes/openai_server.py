"""A real HTTP server on loopback speaking the OpenAI chat-completions wire protocol, with faults,
and the embeddings endpoint (tests/fakes/fake_embeddings.py).

Tests drive the real `openai` client against it, so SDK parsing, timeouts and connection
handling are exercised for real. Run it standalone for load tests:

    python -m tests.fakes.openai_server --port 8099 --latency 2.0
"""
from __future__ import annotations

import argparse
import collections
import json
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import fake_embeddings

_CHAT_PATH = "/v1/chat/completions"
_EMBEDDINGS_PATH = "/v1/embeddings"  # answered by fake_embeddings: words mapped to concepts
_AZURE_PREFIX = "/openai/deployments/"
_AZURE_SUFFIX = "/chat/completions"
# Client disconnects (timeouts, dropped streams) surface as these while the handler writes.
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one request; build them with the class methods."""

    kind: str = "ok"  # ok | status | drop | truncate | invalid_chunk | stream_error
    text: str | None = None  # None: derived from the last user message
    finish_reason: str = "stop"
    latency_s: float = 0.0  # before the first byte (status line)
    delay_between_chunks_s: float = 0.0
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    error_body: dict[str, Any] | None = None
    after_events: int = 0  # for drop/truncate/invalid_chunk: SSE events sent before the fault

    @classmethod
    def ok(cls, text: str | None = None, *, latency_s: float = 0.0,
           delay_between_chunks_s: float = 0.0) -> Behaviour:
        """A normal answer (streamed when the request asks for it)."""
        return cls(text=text, latency_s=latency_s, delay_between_chunks_s=delay_between_chunks_s)

    @classmethod
    def error(cls, status: int, *, headers: dict[str, str] | None = None,
              code: str | None = None, message: str = "fake error") -> Behaviour:
        """An HTTP error with OpenAI's JSON error body."""
        body = {"error": {"message": message, "type": "fake_error", "param": None, "code": code}}
        return cls(kind="status", status=status, headers=tuple((headers or {}).items()),
                   error_body=body)

    @classmethod
    def rate_limited(cls, retry_after: str | None = "1", *,
                     retry_after_ms: str | None = None, code: str | None = None) -> Behaviour:
        """429 with Retry-After (seconds or an HTTP date) and/or retry-after-ms."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        return cls.error(429, headers=headers, code=code, message="rate limited")

    @classmethod
    def slow(cls, latency_s: float) -> Behaviour:
        """A normal answer that starts only after `latency_s` (beyond the client's timeout)."""
        return cls(latency_s=latency_s)

    @classmethod
    def drop_after(cls, events: int) -> Behaviour:
        """Stream `events` SSE events, then close the socket without ending the body."""
        return cls(kind="drop", after_events=events)

    @classmethod
    def truncate_after(cls, events: int) -> Behaviour:
        """Stream `events` SSE events, then end the body cleanly: no finish_reason, no [DONE]."""
        return cls(kind="truncate", after_events=events)

    @classmethod
    def invalid_chunk_after(cls, events: int) -> Behaviour:
        """Stream `events` SSE events, then a line that is not JSON."""
        return cls(kind="invalid_chunk", after_events=events)

    @classmethod
    def stream_error_after(cls, events: int) -> Behaviour:
        """Stream `events` SSE events, then an `{"error": ...}` event (OpenAI on overload)."""
        return cls(kind="stream_error", after_events=events)

    @classmethod
    def content_filter(cls, text: str = "I cannot") -> Behaviour:
        """Stream some text, then finish_reason "content_filter"."""
        return cls(text=text, finish_reason="content_filter")


@dataclass(frozen=True)
class RecordedRequest:
    """One POST as the server saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any
    client_port: int  # tells connections apart: same port == reused connection
    deployment: str | None = None


def default_reply(messages: list[dict[str, Any]]) -> str:
    """The deterministic reply used when a behaviour gives no text."""
    last = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    words = str(last).split()
    topic = " ".join(words[:5]) if words else "your email"
    return f"Thank you for your message about {topic}. I will get back to you soon."


def _error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def _estimate_tokens(text: str) -> int:
    return max(1, len(text.split()))


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: collections.deque[Behaviour] = field(default_factory=collections.deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    default: Behaviour = field(default_factory=Behaviour)
    record: bool = True
    stopping: threading.Event = field(default_factory=threading.Event)
    connections: set[socket.socket] = field(default_factory=set)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streaming: what real endpoints do
    # Backstop only: stop() cuts idle keep-alive connections itself.
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        pass  # tests and load runs would drown in access logs

    def setup(self) -> None:
        super().setup()
        # Streaming is many small writes; with Nagle + delayed ACK each would stall ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.state.lock:
            self.server.state.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.state.lock:
            self.server.state.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass  # flushing to a socket the client (or a `drop` fault) already closed

    def do_POST(self) -> None:  # stdlib naming
        state = self.server.state
        url = urlsplit(self.path)
        deployment = None
        if url.path.startswith(_AZURE_PREFIX) and url.path.endswith(_AZURE_SUFFIX):
            deployment = url.path[len(_AZURE_PREFIX):-len(_AZURE_SUFFIX)] or None
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with state.lock:
            behaviour = state.queue.popleft() if state.queue else state.default
            if state.record:
                state.requests.append(RecordedRequest(
                    path=url.path, query=parse_qs(url.query),
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    client_port=self.client_address[1], deployment=deployment))
        if url.path == _EMBEDDINGS_PATH and isinstance(body, dict):
            if behaviour.kind == "status":
                self._send_json(behaviour.status, behaviour.error_body or {},
                                headers=behaviour.headers)
            else:
                self._send_json(*fake_embeddings.answer(body))
            return
        if url.path != _CHAT_PATH and deployment is None:
            self._send_json(404, _error_body("unknown path"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, _error_body("messages required"))
            return
        try:
            if behaviour.latency_s and state.stopping.wait(behaviour.latency_s):
                self.close_connection = True
                return
            self._answer(behaviour, body, deployment)
        except _GONE:
            self.close_connection = True  # the client gave up (timeout) - nothing to tell it

    def _answer(self, b: Behaviour, body: dict[str, Any], deployment: str | None) -> None:
        if b.kind == "status":
            self._send_json(b.status, b.error_body or {}, headers=b.headers)
            return
        text = b.text if b.text is not None else default_reply(body["messages"])
        model = deployment or str(body.get("model") or "fake-model")
        prompt_tokens = sum(_estimate_tokens(str(m.get("content") or "")) for m in body["messages"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _estimate_tokens(text),
                 "total_tokens": prompt_tokens + _estimate_tokens(text)}
        if not body.get("stream"):
            self._send_json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model, "usage": usage,
                "choices": [{"index": 0, "finish_reason": b.finish_reason,
                             "message": {"role": "assistant", "content": text}}]})
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self._stream(b, text, model, usage if include_usage else None)

    def _stream(self, b: Behaviour, text: str, model: str, usage: dict[str, int] | None) -> None:
        events = _sse_events(text, model, b.finish_reason, usage)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()
        faulty = b.kind in ("drop", "truncate", "invalid_chunk", "stream_error")
        # A fault after the last answer event still comes before [DONE].
        sent = events[:b.after_events] if faulty else events
        for index, event in enumerate(sent):
            if index and b.delay_between_chunks_s and self.server.state.stopping.wait(
                    b.delay_between_chunks_s):
                self.close_connection = True  # the server is stopping
                return
            self._write_chunk(event)
        if faulty:
            self._fault(b.kind)
            return
        self._write_chunk(b"data: [DONE]\n\n")
        self._end_body()

    def _fault(self, kind: str) -> None:
        if kind == "drop":
            # No terminating zero-length chunk: the client sees the peer vanish mid-body.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "invalid_chunk":
            self._write_chunk(b'data: {"id": "chatcmpl-fake", "choices": [{"delta": \n\n')
        elif kind == "stream_error":
            error = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
            self._write_chunk(b"data: " + json.dumps(error).encode() + b"\n\n")
        # truncate (and the two above): end the body cleanly, no finish_reason, no [DONE].
        self._end_body()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_body(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any],
                   headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _sse_events(text: str, model: str, finish_reason: str,
                usage: dict[str, int] | None) -> list[bytes]:
    """The SSE events of one streamed answer: role, one per word, finish, usage (if asked)."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None, *, with_choice: bool = True,
              chunk_usage: dict[str, int] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] * with_choice}
        if usage is not None:
            payload["usage"] = chunk_usage  # null on every chunk but the last, like OpenAI
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    words = text.split(" ")
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words) if w or i == 0]
    events = [chunk({"role": "assistant", "content": ""}, None)]
    events += [chunk({"content": piece}, None) for piece in pieces if piece]
    events.append(chunk({}, finish_reason))
    if usage is not None:
        events.append(chunk({}, None, with_choice=False, chunk_usage=usage))
    return events


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Python's default listen backlog (5) drops connections under load tests.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is a scripted fault, not a server bug


class FakeOpenAIServer:
    """The fake server: start it (or use it as a context manager), script it, read its requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 default: Behaviour | None = None, record: bool = True) -> None:
        self._state = _State(default=default or Behaviour(), record=record)
        self._address = (host, port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeOpenAIServer:
        """Bind and serve in a background thread."""
        self._state.stopping.clear()
        self._httpd = _Server(self._address, self._state)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and join every thread."""
        if self._httpd is None:
            return
        self._state.stopping.set()  # wakes handlers sleeping in latency/delay
        self._httpd.shutdown()
        with self._state.lock:
            open_connections = list(self._state.connections)
        for conn in open_connections:
            # Idle keep-alive handlers block in recv(); shutting the socket down releases them.
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()  # joins the handler threads (block_on_close)
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """Scheme, host and port: Azure's `azure_endpoint`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in /v1."""
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received since the last reset."""
        with self._state.lock:
            return list(self._state.requests)

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours, one consumed per request; the default answers once they run out."""
        with self._state.lock:
            self._state.queue.extend(behaviours)

    def set_default(self, behaviour: Behaviour) -> None:
        """Change the answer used when the script is empty."""
        with self._state.lock:
            self._state.default = behaviour

    def reset(self) -> None:
        """Forget recorded requests, the script and any changed default."""
        with self._state.lock:
            self._state.queue.clear()
            self._state.requests.clear()
            self._state.default = Behaviour()


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; every answer streams word by word with the given latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before the first byte")
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument("--text", default=None, help="fixed reply (default: from the prompt)")
    args = parser.parse_args(argv)
    default = Behaviour.ok(args.text, latency_s=args.latency,
                           delay_between_chunks_s=args.chunk_delay)
    # Recording would grow without bound under load.
    server = FakeOpenAIServer(args.host, args.port, default=default, record=False).start()
    print(f"fake OpenAI server on http://{args.host}:{server.port}/v1", flush=True)
    stop = threading.Event()
    # Load scripts stop it with SIGTERM; Ctrl-C raises KeyboardInterrupt out of the wait.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        while not stop.wait(0.2):  # short waits: signal handlers run between them
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
