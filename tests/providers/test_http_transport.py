"""The providers' HTTP transport (http.client under the SDK's httpx client) over real sockets:
keep-alive and its limits, failures as httpx's exceptions, TLS, and calls through a proxy."""
from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest

from backend.config import ConfigError, Settings
from backend.providers.llm.base import CompletionRequest, Finished, ProviderConfig
from backend.providers.llm.http_transport import PooledHTTPTransport
from backend.providers.llm.openai_provider import OpenAIProvider
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer

BODY = {"model": "fake-model", "stream": True,
        "messages": [{"role": "user", "content": "Could you send the invoice again?"}]}


@pytest.fixture
def transport() -> Iterator[PooledHTTPTransport]:
    pooled = PooledHTTPTransport(max_idle=10, keepalive_expiry=5.0)
    yield pooled
    pooled.close()


def _stream(client: httpx2.Client, url: str) -> bytes:
    with client.stream("POST", url, json=BODY) as response:
        assert response.status_code == 200
        return b"".join(response.iter_bytes())


def _stream_at_once(client: httpx2.Client, url: str, count: int) -> None:
    """`count` streams in parallel threads, so each needs a connection of its own."""
    threads = [threading.Thread(target=_stream, args=(client, url)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)


def test_a_finished_stream_leaves_its_connection_for_the_next_call(
        transport: PooledHTTPTransport, openai_server: FakeOpenAIServer) -> None:
    with httpx2.Client(transport=transport) as client:
        bodies = [_stream(client, openai_server.base_url + "/chat/completions")
                  for _ in range(3)]
        assert transport.idle_connections() == 1

    assert all(body.rstrip().endswith(b"data: [DONE]") for body in bodies)
    assert len({r.client_port for r in openai_server.requests}) == 1


def test_a_stream_left_mid_way_closes_its_connection(
        transport: PooledHTTPTransport, openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Behaviour.ok("one two three four", delay_between_chunks_s=0.05))
    with httpx2.Client(transport=transport) as client:
        with client.stream("POST", openai_server.base_url + "/chat/completions",
                           json=BODY) as response:
            next(response.iter_bytes())
        # Unread data is still on that connection: it must not carry the next request.
        assert transport.idle_connections() == 0
        _stream(client, openai_server.base_url + "/chat/completions")

    assert len({r.client_port for r in openai_server.requests}) == 2


def test_an_error_answer_is_read_whole_and_keeps_the_connection(
        transport: PooledHTTPTransport, openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Behaviour.rate_limited("3"))
    with httpx2.Client(transport=transport) as client:
        response = client.post(openai_server.base_url + "/chat/completions", json=BODY)
        assert (response.status_code, response.headers["retry-after"]) == (429, "3")
        assert response.json()["error"]
        _stream(client, openai_server.base_url + "/chat/completions")

    assert len({r.client_port for r in openai_server.requests}) == 1


def test_idle_connections_past_their_expiry_or_the_cap_are_closed(
        openai_server: FakeOpenAIServer) -> None:
    pooled = PooledHTTPTransport(max_idle=2, keepalive_expiry=0.2)
    url = openai_server.base_url + "/chat/completions"
    openai_server.set_default(Behaviour.ok("Thanks.", latency_s=0.2))
    with httpx2.Client(transport=pooled) as client:
        _stream_at_once(client, url, 3)
        assert pooled.idle_connections() == 2  # three finished at once; two are kept
        time.sleep(0.3)
        _stream(client, url)  # both idle ones expired: a new connection

    ports = [r.client_port for r in openai_server.requests]
    assert len(set(ports)) == 4


def test_expired_connections_under_newer_ones_are_closed_too(
        openai_server: FakeOpenAIServer) -> None:
    """Under steady traffic the newest idle connection is always taken, so the oldest must be
    dropped when they expire rather than left open at the bottom of the pool."""
    pooled = PooledHTTPTransport(max_idle=10, keepalive_expiry=1.0)
    url = openai_server.base_url + "/chat/completions"
    openai_server.set_default(Behaviour.ok("Thanks.", latency_s=0.1))
    with httpx2.Client(transport=pooled) as client:
        _stream_at_once(client, url, 2)
        time.sleep(0.7)
        _stream(client, url)  # takes the newer of the two and puts it back on top
        time.sleep(0.5)  # now the bottom one is past its expiry, the top one is not
        assert pooled.idle_connections() == 2
        _stream(client, url)
        assert pooled.idle_connections() == 1

    ports = [r.client_port for r in openai_server.requests]
    assert len(set(ports)) == 2 and ports[-1] == ports[-2]


def test_a_connection_the_server_closed_while_idle_is_not_reused(
        transport: PooledHTTPTransport) -> None:
    """Servers close idle keep-alive connections on their own schedule; a request written to
    such a connection would fail, so the pool must notice and connect again."""
    served: list[int] = []

    class CloseAfterAnswer(_QuietHandler):
        def do_POST(self) -> None:  # stdlib naming
            self.rfile.read(int(self.headers["Content-Length"]))
            served.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            self.wfile.flush()
            # Keep-alive was promised (no Connection: close), then the server hangs up.
            self.close_connection = True

    with _serving(CloseAfterAnswer) as url, httpx2.Client(transport=transport) as client:
        assert client.post(url, json=BODY).content == b"ok"
        time.sleep(0.1)  # the server's FIN arrives
        assert client.post(url, json=BODY).content == b"ok"

    assert len(set(served)) == 2


def test_refused_connections_and_timeouts_raise_httpx_exceptions(
        transport: PooledHTTPTransport, openai_server: FakeOpenAIServer) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    with httpx2.Client(transport=transport, timeout=httpx2.Timeout(2.0, read=0.2)) as client:
        with pytest.raises(httpx2.ConnectError):
            client.post(f"http://127.0.0.1:{closed_port}/v1/chat/completions", json=BODY)
        openai_server.script(Behaviour.slow(2.0))
        with pytest.raises(httpx2.ReadTimeout):
            client.post(openai_server.base_url + "/chat/completions", json=BODY)
        openai_server.script(Behaviour.ok("one two three", delay_between_chunks_s=1.0))
        with pytest.raises(httpx2.ReadTimeout):
            _stream(client, openai_server.base_url + "/chat/completions")
    assert transport.idle_connections() == 0


def test_a_broken_body_raises_a_protocol_error(transport: PooledHTTPTransport) -> None:
    class BadChunks(_QuietHandler):
        def do_POST(self) -> None:  # stdlib naming
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\ndata:\r\nnot-a-size\r\n")
            self.wfile.flush()
            self.close_connection = True

    with _serving(BadChunks) as url, httpx2.Client(transport=transport) as client:
        with pytest.raises(httpx2.RemoteProtocolError):
            with client.stream("POST", url, json=BODY) as response:
                b"".join(response.iter_bytes())
    assert transport.idle_connections() == 0


def test_https_verifies_the_server_certificate(tmp_path: Path) -> None:
    authority, server_context = _certificates(tmp_path)

    class Hello(_QuietHandler):
        def do_POST(self) -> None:  # stdlib naming
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

    trusting = PooledHTTPTransport(max_idle=4, keepalive_expiry=5.0,
                                   ssl_context=ssl.create_default_context(cafile=authority))
    strangers = PooledHTTPTransport(max_idle=4, keepalive_expiry=5.0,
                                    ssl_context=ssl.create_default_context())
    with _serving(Hello, server_context) as url:
        https = url.replace("http://", "https://")
        with httpx2.Client(transport=trusting) as client:
            assert [client.post(https, json=BODY).content for _ in range(2)] == [b"hello"] * 2
            assert trusting.idle_connections() == 1
            # The certificate names 127.0.0.1 only: another name for the same server fails.
            with pytest.raises(httpx2.ConnectError):
                client.post(https.replace("127.0.0.1", "localhost"), json=BODY)
        with httpx2.Client(transport=strangers) as client, pytest.raises(httpx2.ConnectError):
            client.post(https, json=BODY)


def test_a_provider_with_a_proxy_sends_its_calls_through_it(
        openai_server: FakeOpenAIServer, completion_request: CompletionRequest) -> None:
    seen: list[str] = []
    with _forwarding_proxy(seen) as proxy:
        provider = OpenAIProvider(ProviderConfig(
            name="p", kind="compatible", model="fake-model", base_url=openai_server.base_url,
            timeout_s=5.0, proxy=proxy))
        try:
            events = list(provider.stream(completion_request, 5.0))
        finally:
            provider.close()

    assert isinstance(events[-1], Finished)
    assert seen == [f"POST {openai_server.base_url}/chat/completions"]
    assert len(openai_server.requests) == 1


def _provider_proxy(environ: dict[str, str], entry: dict | None = None) -> str | None:
    provider = {"name": "p", "kind": "compatible", "model": "m",
                "base_url": "https://llm.corp.example/v1", **(entry or {})}
    settings = Settings.from_env({**environ, "REPLYWISE_PROVIDERS": json.dumps([provider])})
    return settings.providers[0].proxy


def test_proxies_come_from_the_conventional_variables() -> None:
    assert _provider_proxy({}) is None
    assert _provider_proxy({"HTTPS_PROXY": "http://proxy:3128"}) == "http://proxy:3128"
    assert _provider_proxy({"https_proxy": "http://lower:3128",
                            "HTTPS_PROXY": "http://upper:3128"}) == "http://lower:3128"
    assert _provider_proxy({"HTTP_PROXY": "http://plain:3128"}) is None  # an https URL
    assert _provider_proxy({"ALL_PROXY": "http://all:3128"}) == "http://all:3128"
    assert _provider_proxy({"HTTPS_PROXY": "proxy.corp:3128"}) == "http://proxy.corp:3128"
    for no_proxy in ("llm.corp.example", ".corp.example", "other.example,corp.example", "*"):
        assert _provider_proxy({"HTTPS_PROXY": "http://proxy:3128",
                                "NO_PROXY": no_proxy}) is None, no_proxy
    assert _provider_proxy({"HTTPS_PROXY": "http://proxy:3128",
                            "NO_PROXY": "elsewhere.example"}) == "http://proxy:3128"
    # The provider's own entry wins: another proxy, or "" for a direct connection.
    assert _provider_proxy({"HTTPS_PROXY": "http://proxy:3128"},
                           {"proxy": "http://egress:8080"}) == "http://egress:8080"
    assert _provider_proxy({"HTTPS_PROXY": "http://proxy:3128"}, {"proxy": ""}) is None
    offline = Settings.from_env({"HTTPS_PROXY": "http://proxy:3128", "REPLYWISE_PROVIDERS":
                                 json.dumps([{"kind": "offline"}])})
    assert offline.providers[0].proxy is None
    shortcut = Settings.from_env({"HTTPS_PROXY": "http://proxy:3128",
                                  "REPLYWISE_OPENAI_API_KEY": "sk-test"})
    assert shortcut.providers[0].proxy == "http://proxy:3128"  # api.openai.com


@pytest.mark.parametrize("environ, entry, named", [
    ({}, {"proxy": "ftp://proxy:21"}, "REPLYWISE_PROVIDERS[0].proxy"),
    ({}, {"proxy": 3128}, "REPLYWISE_PROVIDERS[0].proxy"),
    ({"HTTPS_PROXY": "socks5://user:secret@proxy:1080"}, None, "HTTPS_PROXY"),
])
def test_an_unusable_proxy_is_refused_naming_where_it_came_from(
        environ: dict[str, str], entry: dict | None, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")) as error:
        _provider_proxy(environ, entry)
    assert "secret" not in str(error.value)  # a proxy URL may carry a password


def test_keys_and_proxies_stay_out_of_a_provider_configs_repr() -> None:
    config = ProviderConfig(name="p", kind="openai", model="m", api_key="sk-secret-key",
                            proxy="http://user:proxy-password@egress:3128")
    assert "sk-secret-key" not in repr(config) and "proxy-password" not in repr(config)


class _QuietHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 (keep-alive) handler that writes no access log."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # stdlib signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _serving:
    """A local HTTP(S) server with `handler` on a free port; yields its URL."""

    def __init__(self, handler: type[BaseHTTPRequestHandler],
                 context: ssl.SSLContext | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        if context is not None:
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/chat/completions"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _forwarding_proxy:
    """A plain HTTP forwarding proxy: takes requests with an absolute URL, notes
    "METHOD URL", and relays the bytes both ways to the origin."""

    def __init__(self, seen: list[str]) -> None:
        self._seen = seen
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            method, target, rest = head.split(b" ", 2)
            self._seen.append(f"{method.decode()} {target.decode()}")
            url = httpx2.URL(target.decode())
            upstream = socket.create_connection((url.host, url.port))
            with upstream:
                upstream.sendall(method + b" " + url.raw_path + b" " + rest)
                pump = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
                pump.start()
                _pump(upstream, client)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _certificates(directory: Path) -> tuple[str, ssl.SSLContext]:
    """A test certificate authority (its PEM file) and a server context for 127.0.0.1 signed
    by it: generated per test, never a key from outside."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Replywise test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    authority = directory / "ca.pem"
    authority.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(chain)
    return str(authority), server_context

