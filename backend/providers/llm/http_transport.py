"""The HTTP transport under the openai SDK's client: HTTP/1.1 keep-alive on the standard
library's `http.client`, with a pool of idle connections per origin.

Why not httpx's own transport: a streamed draft is dozens of small chunks, each read after a
wait, and under load the CPU per chunk decides how many drafts a core holds. Through
httpcore and h11 each chunk passes some twenty Python frames (event objects, state checks,
context managers); `http.client` reads the chunk size and data through a buffered reader in
C. Measured on the load test's streams (22 chunks 100 ms apart), reading one stream cost about
a third of the CPU (docs/benchmarks.md, issue 7). The SDK above is unchanged: it still builds
the request, authenticates, applies timeouts and raises its status errors. Failures are raised
as httpx's exception types, which is what the SDK and the provider map.

Used for direct connections; a provider reached through a proxy keeps httpx's transport, which
speaks to proxies (`provider_transport`).
"""
from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx2

_DONE_MARKER = b"data: [DONE]"
# Read size per call: larger than any one SSE event, so an event is one read.
_READ_SIZE = 65536


class PooledHTTPTransport(httpx2.BaseTransport):
    """HTTP/1.1 over `http.client`, keeping up to `max_idle` idle connections per origin for
    `keepalive_expiry` seconds. There is no cap on connections in use: a worker has at most
    one call in flight per thread, and upstream shaping caps calls per provider."""

    def __init__(self, *, max_idle: int, keepalive_expiry: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._ssl_context = ssl_context  # made on first use: loading the CA bundle takes ms
        self._idle: dict[tuple[str, str, int], list[tuple[float, http.client.HTTPConnection]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}",
                                             request=request)
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = request.read()
        connection = self._checkout(origin) or self._connect(origin, timeouts, request)
        try:
            self._send(connection, request, body, timeouts)
            connection.sock.settimeout(timeouts.get("read"))
            response = connection.getresponse()
        except BaseException as exc:
            connection.close()
            raise _as_httpx_error(exc, request, phase="read") from exc
        return httpx2.Response(
            response.status, headers=response.getheaders(),
            stream=_ResponseBody(self, origin, connection, response, request),
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1", "replace")})

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [connection for entries in self._idle.values() for _, connection in entries]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def checkin(self, origin: tuple[str, str, int], connection: http.client.HTTPConnection) -> None:
        """Keep a connection whose response was read to its end, for the next call."""
        with self._lock:
            entries = self._idle.setdefault(origin, [])
            if not self._closed and len(entries) < self._max_idle:
                entries.append((time.monotonic(), connection))
                return
        connection.close()

    def idle_connections(self) -> int:
        """How many connections wait in the pool (for tests and diagnostics)."""
        with self._lock:
            return sum(len(entries) for entries in self._idle.values())

    def _checkout(self, origin: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        """The most recently used idle connection that is still usable, or None."""
        stale = []
        found = None
        now = time.monotonic()
        with self._lock:
            entries = self._idle.get(origin, [])
            # The oldest wait at the bottom; under steady traffic the top never reaches them,
            # so expired ones are dropped here rather than left open until the server's
            # timeout turns them into half-closed sockets.
            expired = 0
            while expired < len(entries) and now - entries[expired][0] >= self._expiry:
                expired += 1
            stale.extend(connection for _, connection in entries[:expired])
            del entries[:expired]
            while entries:
                _, connection = entries.pop()
                if not _closed_by_peer(connection):
                    found = connection
                    break
                stale.append(connection)
        for connection in stale:
            connection.close()
        return found

    def _connect(self, origin: tuple[str, str, int], timeouts: dict,
                 request: httpx2.Request) -> http.client.HTTPConnection:
        scheme, host, port = origin
        try:
            if scheme == "https":
                if self._ssl_context is None:
                    self._ssl_context = httpx2.create_ssl_context()
                connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, port, timeout=timeouts.get("connect"), context=self._ssl_context)
            else:
                connection = http.client.HTTPConnection(host, port,
                                                        timeout=timeouts.get("connect"))
            connection.connect()
            # Small request writes must not wait for the previous segment's acknowledgement.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException as exc:
            raise _as_httpx_error(exc, request, phase="connect") from exc
        return connection

    @staticmethod
    def _send(connection: http.client.HTTPConnection, request: httpx2.Request, body: bytes,
              timeouts: dict) -> None:
        connection.sock.settimeout(timeouts.get("write"))
        # httpx has already set Host, Content-Length and Accept-Encoding (the SDK's headers
        # included): send exactly those.
        connection.putrequest(request.method, request.url.raw_path.decode("ascii"),
                              skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers.raw:
            connection.putheader(name, value)
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        try:
            connection.endheaders(body or None, encode_chunked=chunked)
        except BaseException as exc:
            raise _WriteFailed(exc) from exc


def provider_transport(*, proxy: str | None, max_idle: int,
                       keepalive_expiry: float) -> httpx2.BaseTransport:
    """The transport for one provider's client: this module's own for direct connections,
    httpx's through `proxy` (both keep a finished stream's connection for the next call)."""
    if proxy:
        return _KeepAliveTransport(httpx2.HTTPTransport(proxy=proxy, limits=httpx2.Limits(
            max_connections=max_idle, max_keepalive_connections=max_idle,
            keepalive_expiry=keepalive_expiry)))
    return PooledHTTPTransport(max_idle=max_idle, keepalive_expiry=keepalive_expiry)


class _ResponseBody(httpx2.SyncByteStream):
    """A response's body, read as it arrives. Closing it gives the connection back to the pool
    when the body was read to its end, and otherwise closes it."""

    # The SDK stops reading at `data: [DONE]` and closes the response; on HTTP/1.1 the body's
    # terminating chunk usually came in the same packet but is still unread. Reading it keeps
    # the connection (no new TCP and TLS handshake before the next draft's first word); nothing
    # legitimate follows [DONE], so give up after a few KiB.
    _MAX_DRAIN_BYTES = 4096

    def __init__(self, transport: PooledHTTPTransport, origin: tuple[str, str, int],
                 connection: http.client.HTTPConnection, response: http.client.HTTPResponse,
                 request: httpx2.Request) -> None:
        self._transport = transport
        self._origin = origin
        self._connection: http.client.HTTPConnection | None = connection
        self._response = response
        self._request = request
        self._tail = b""

    def __iter__(self) -> Iterator[bytes]:
        read = self._response.read1
        while True:
            try:
                chunk = read(_READ_SIZE)
            except BaseException as exc:
                self._discard()
                raise _as_httpx_error(exc, self._request, phase="read") from exc
            if not chunk:
                if self._response.length == 0:
                    # A Content-Length body read whole: http.client leaves it open (a chunked
                    # one it closes itself), and only a closed response frees the connection.
                    self._response.close()
                return
            self._tail = (self._tail + chunk)[-64:]
            yield chunk

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        response = self._response
        try:
            if not response.isclosed() and _DONE_MARKER in self._tail:
                drained = 0
                while drained <= self._MAX_DRAIN_BYTES and (chunk := response.read1(_READ_SIZE)):
                    drained += len(chunk)
        except Exception:  # cleanup must not fail a completed answer; the connection goes
            pass
        if response.isclosed() and not response.will_close:
            self._transport.checkin(self._origin, connection)
        else:
            response.close()
            connection.close()

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        self._response.close()
        if connection is not None:
            connection.close()


class _WriteFailed(Exception):
    """Sending the request failed (told apart from failures while reading the answer)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """True when an idle connection's socket is readable: the server closed it (or sent
    something unasked), so it must not carry the next request."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        if not hasattr(select, "poll"):  # Windows: select() takes any socket there
            return bool(select.select([sock], [], [], 0)[0])
        poller = select.poll()  # not select(): it fails on descriptors past 1024
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _as_httpx_error(exc: BaseException, request: httpx2.Request, *, phase: str) -> BaseException:
    """The httpx exception for a failure in `phase` ("connect", "read"), as httpx's own
    transport would raise it; anything that is not a transport failure is returned as is."""
    if isinstance(exc, _WriteFailed):
        cause = exc.cause
        if isinstance(cause, (socket.timeout, TimeoutError)):
            return httpx2.WriteTimeout(f"timed out sending the request: {cause}", request=request)
        return httpx2.WriteError(f"sending the request failed: {cause}", request=request)
    if isinstance(exc, httpx2.HTTPError):
        return exc
    if isinstance(exc, (socket.timeout, TimeoutError)):
        kind = httpx2.ConnectTimeout if phase == "connect" else httpx2.ReadTimeout
        return kind(f"timed out ({phase}): {exc}", request=request)
    if phase == "connect" and isinstance(exc, (OSError, ssl.SSLError)):
        return httpx2.ConnectError(f"cannot connect: {exc}", request=request)
    if isinstance(exc, (http.client.HTTPException, ValueError)):
        # A bad status line, a bad chunk size or a body cut short: the peer broke the protocol.
        return httpx2.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request)
    if isinstance(exc, OSError):
        return httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request)
    return exc


class _KeepAliveTransport(httpx2.BaseTransport):
    """Wraps httpx's transport so a finished SSE stream gives its connection back to the pool
    (see _ResponseBody._MAX_DRAIN_BYTES: the same reasoning)."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        if isinstance(response.stream, httpx2.SyncByteStream):
            response.stream = _DrainAfterDone(response.stream)
        return response

    def close(self) -> None:
        self._inner.close()


class _DrainAfterDone(httpx2.SyncByteStream):
    """Reads the rest of a body that already delivered `data: [DONE]` before closing it."""

    def __init__(self, inner: httpx2.SyncByteStream) -> None:
        self._inner = inner
        self._chunks: Iterator[bytes] | None = None
        self._tail = b""

    def __iter__(self) -> Iterator[bytes]:
        self._chunks = iter(self._inner)
        for chunk in self._chunks:
            self._tail = (self._tail + chunk)[-64:]
            yield chunk

    def close(self) -> None:
        try:
            if self._chunks is not None and _DONE_MARKER in self._tail:
                drained = 0
                for chunk in self._chunks:
                    drained += len(chunk)
                    if drained > _ResponseBody._MAX_DRAIN_BYTES:
                        break
        except Exception:  # cleanup must not fail a completed answer
            pass
        finally:
            self._inner.close()
