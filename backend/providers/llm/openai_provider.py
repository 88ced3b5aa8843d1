"""OpenAI, Azure OpenAI and OpenAI-compatible servers (Ollama, vLLM, LM Studio) as LLMProviders."""
from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import httpx2
import openai

from backend.providers.llm.base import (
    OPENAI_BASE_URL,
    CompletionRequest,
    Finished,
    ProviderConfig,
    ProviderError,
    StreamEvent,
    TextDelta,
    Usage,
)
from backend.providers.llm.http_transport import provider_transport

# Local servers ignore the key, but the SDK refuses to build a client without one.
_DUMMY_KEY = "not-needed"
_DEFAULT_MAX_TOKENS_PARAM = {"openai": "max_completion_tokens", "azure": "max_tokens",
                             "compatible": "max_tokens"}
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
# 429 with these codes is a billing/quota problem: waiting will not fix it.
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
# A chunk that came back from the stream faster than this was already waiting, not awaited.
_NO_WAIT_S = 0.001
_BOM = b"\xef\xbb\xbf"
# Short gaps in a row between chunks before a stream's reads are paced (ReadPace).
_FAST_GAPS = 2
# The SDK keeps at most 100 idle connections per client; a worker streams as many drafts at
# once as it has threads (hundreds), so past 100 every finished draft closed its connection
# and the next opened a new one: a TCP and TLS handshake per draft before the first word,
# and CPU the worker does not have under load. Idle connections are kept for all of them.
_MAX_IDLE_CONNECTIONS = openai.DEFAULT_CONNECTION_LIMITS.max_connections
_KEEPALIVE_EXPIRY_S = openai.DEFAULT_CONNECTION_LIMITS.keepalive_expiry


class OpenAIProvider:
    """LLMProvider over the `openai` SDK; one pooled client each, retries left to the chain."""

    kinds = ("openai", "azure", "compatible")

    def __init__(self, config: ProviderConfig, *, client: openai.OpenAI | None = None) -> None:
        if config.kind not in self.kinds:
            raise ValueError(f"OpenAIProvider cannot serve kind {config.kind!r}")
        self.config = config
        self.name = config.name
        self.kind = config.kind
        # Azure routes by deployment; the deployment is what goes in the `model` field.
        self.model = (config.deployment or config.model) if config.kind == "azure" else config.model
        if not self.model:
            raise ValueError(f"provider {config.name!r}: a model (or Azure deployment) is required")
        self.region = config.region
        self.timeout_s = config.timeout_s
        self._coalesce_s = config.coalesce_ms / 1000
        self._max_tokens_param = config.extra.get(
            "max_tokens_param", _DEFAULT_MAX_TOKENS_PARAM[config.kind])
        # Some older OpenAI-compatible servers reject `stream_options`; allow turning it off.
        self._include_usage = config.extra.get("include_usage", "true").lower() != "false"
        self._client = client if client is not None else _make_client(config)

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[StreamEvent]:
        """Yield TextDelta events then exactly one Finished; raise ProviderError on failure."""
        # httpx timeouts bound each read, not the whole answer; a trickling stream could run on
        # forever, so the total is enforced here too.
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "temperature": request.temperature,
            self._max_tokens_param: request.max_tokens,
        }
        if self._include_usage:
            body["stream_options"] = {"include_usage": True}
        # The SDK client's own POST (its documented way to call any endpoint): it still adds
        # authentication, the base URL or Azure deployment route and the timeout, and raises
        # its status errors; what it skips is re-walking our plain JSON body against its typed
        # parameters (~0.8 ms a call). The streamed chunks are read here with json.loads:
        # building one SDK object per chunk cost about five times as much CPU, and a draft
        # streams dozens.
        try:
            response = self._client.post("/chat/completions", body=body, cast_to=httpx2.Response,
                                         stream=True, options={"timeout": timeout})
        except Exception as exc:  # every SDK failure becomes a ProviderError
            raise self._error(exc) from exc

        finish_reason: str | None = None
        model = self.model
        usage: Usage | None = None
        pace = ReadPace(self._coalesce_s)
        try:  # closes the HTTP response even when our consumer abandons us mid-stream
            events = sse_data(response.iter_bytes())
            while True:
                try:
                    asked = time.monotonic()
                    data = next(events, None)
                    pace.read(asked, time.monotonic())
                    if data is None or data == b"[DONE]":
                        break
                    if finish_reason is None and time.monotonic() > deadline:
                        raise ProviderError(self.name, "timeout", retryable=True)
                    chunk = json.loads(data)
                    if chunk.get("error"):
                        # OpenAI reports overload inside an already started stream this way.
                        raise ProviderError(self.name, "upstream error in stream", retryable=True)
                    model = chunk.get("model") or model
                    if chunk.get("usage"):
                        usage = Usage(prompt_tokens=chunk["usage"].get("prompt_tokens") or 0,
                                      completion_tokens=chunk["usage"].get("completion_tokens")
                                      or 0)
                    choices = chunk.get("choices")
                    choice = choices[0] if choices else None
                    text = (choice.get("delta") or {}).get("content") if choice else None
                    if choice and choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                    if text is not None and not isinstance(text, str):
                        raise TypeError("delta content is not text")
                except ProviderError:
                    raise
                except Exception as exc:  # see _stream_error
                    if finish_reason is not None:
                        # The answer is complete; only the trailing usage chunk or [DONE] was
                        # lost. Re-generating the whole draft for that would be waste.
                        break
                    raise self._stream_error(exc) from exc
                if text:
                    yield TextDelta(text)
                    pause = pace.pause(time.monotonic())
                    if pause > 0:
                        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        finally:
            response.close()

        if finish_reason is None:
            raise ProviderError(self.name, "stream ended without finish reason", retryable=True)
        if finish_reason == "content_filter":
            # Deltas may already have been forwarded; the chain tells the caller to discard them.
            raise ProviderError(self.name, "content filtered", retryable=False)
        yield Finished(finish_reason=finish_reason, model=model, usage=usage)

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._client.close()

    def __enter__(self) -> OpenAIProvider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAIProvider(name={self.name!r}, kind={self.kind!r}, model={self.model!r})"

    def _error(self, exc: Exception) -> ProviderError:
        """Map an SDK exception raised before or during the stream to a ProviderError."""
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError: it subclasses it
            return ProviderError(self.name, "timeout", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(self.name, "connection error", retryable=True)
        if isinstance(exc, openai.APIError):
            # An `{"error": ...}` event inside the stream: OpenAI sends these on overload.
            return ProviderError(self.name, "upstream error in stream", retryable=True)
        # Anything else is a bug or a misconfiguration; retrying the same call will not help.
        return ProviderError(self.name, f"client error ({type(exc).__name__})", retryable=False)

    def _stream_error(self, exc: Exception) -> ProviderError:
        """Map a failure while reading chunks: the stream is broken, so trying again may help."""
        if isinstance(exc, httpx2.TimeoutException):
            return ProviderError(self.name, "timeout", retryable=True)
        if isinstance(exc, httpx2.TransportError):  # reset, closed mid-body, protocol error
            return ProviderError(self.name, "connection error", retryable=True)
        if isinstance(exc, openai.OpenAIError):
            error = self._error(exc)
            return error if error.retryable else ProviderError(self.name, error.reason,
                                                               retryable=True)
        # A garbled chunk surfaces as JSONDecodeError (UnicodeDecodeError for bad bytes); a
        # chunk of the wrong shape as AttributeError/TypeError/IndexError when we read it.
        return ProviderError(self.name, "invalid chunk", retryable=True)

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        status = exc.status_code
        code = (exc.code or "").lower()
        if status == 429:
            if code in _QUOTA_CODES:
                return ProviderError(self.name, "quota exhausted", retryable=False, status=status)
            return ProviderError(self.name, "rate limited", retryable=True, status=status,
                                 retry_after=parse_retry_after(exc.response.headers))
        if status >= 500 or status in _RETRYABLE_STATUS:
            return ProviderError(self.name, f"server error {status}", retryable=True, status=status,
                                 retry_after=parse_retry_after(exc.response.headers))
        if code == "content_filter":  # Azure rejects a filtered prompt with a 400
            return ProviderError(self.name, "content filtered", retryable=False, status=status)
        return ProviderError(self.name, f"rejected {status}", retryable=False, status=status)


class ReadPace:
    """When to read a provider's stream again: at once while tokens come slowly; while they come
    faster than one per `window_s`, not before `window_s` after the last one that woke the
    thread, reading what came meanwhile without waiting.

    Why: each chunk that wakes the worker's thread costs far more CPU than one that was already
    waiting (docs/benchmarks.md, issue 7: 0.4-0.7 ms a wake-up on the benchmark machines), and a
    provider sends a token every few ms. Pausing lets the tokens that arrive meanwhile be read
    in one wake-up. It starts only after `_FAST_GAPS` gaps in a row shorter than the window:
    one short gap is what a slow stream looks like when a busy worker read its previous chunk
    late, and a pause there only adds a wake-up (its own end) and can hold back the stream's
    last event. The first words are never held back. A pause that nothing arrived in stops the
    pausing."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.pausing = False
        self._arrived: float | None = None  # when data last woke the thread
        self._fast_gaps = 0  # gaps in a row between such wake-ups shorter than the window
        self._paused = False

    def read(self, asked: float, returned: float) -> None:
        """Note one read of the stream, asked for and answered at these monotonic times."""
        if returned - asked > _NO_WAIT_S:  # nothing was waiting: the data woke the thread
            if self._paused:
                self.pausing = False
                self._fast_gaps = 0
            elif self._arrived is not None and returned - self._arrived < self.window_s:
                self._fast_gaps += 1
                self.pausing = self._fast_gaps >= _FAST_GAPS
            else:
                self._fast_gaps = 0
            self._arrived = returned
        self._paused = False

    def pause(self, now: float) -> float:
        """Seconds to wait, from monotonic time `now`, before the next read (0: read now)."""
        wait = self._arrived + self.window_s - now if self.pausing and self._arrived else 0.0
        self._paused = wait > 0
        return wait


def sse_data(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The data of each server-sent event (its `data:` lines joined), per the SSE format, read
    straight from the body's byte chunks.

    Why bytes: a draft streams dozens of chunks, each after a wait, and every layer a chunk
    passes through costs CPU per chunk; httpx's text and line iterators add three generator
    layers and a decode that json.loads (which reads UTF-8 bytes itself) does not need."""
    pending = b""
    data: list[bytes] = []
    first = True
    for chunk in chunks:
        if first and chunk:
            first = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM):]
        pending = pending + chunk if pending else chunk
        if b"\r" in pending:
            # A CR at the end may be the first half of a CRLF split across chunks: keep it.
            keep_cr = pending.endswith(b"\r")
            pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                pending = pending[:-1] + b"\r"
        lines = pending.split(b"\n")
        pending = lines.pop()  # the last piece has no line end yet
        for line in lines:
            if not line:  # a blank line ends the event
                if data:
                    yield b"\n".join(data)
                    data = []
            else:
                _add_data(data, line)
    _add_data(data, pending.rstrip(b"\r"))  # a last line the body ended without a line end
    if data:
        yield b"\n".join(data)


def _add_data(data: list[bytes], line: bytes) -> None:
    """Keep a `data:` line's value; other fields (event:, id:, retry:) and comments
    (": keep-alive") carry no chunk."""
    if line.startswith(b"data:"):
        value = line[5:]
        data.append(value[1:] if value.startswith(b" ") else value)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            millis = float(value)
        except ValueError:
            pass
        else:
            if millis >= 0:
                return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None


def _make_client(config: ProviderConfig) -> openai.OpenAI:
    """One SDK client for the provider's lifetime, so connections are pooled across drafts."""
    # max_retries=0: the chain owns retries, backoff, deadlines and failover; SDK retries would
    # hide failures from the breaker and overrun the deadline.
    http_client = openai.DefaultHttpxClient(transport=provider_transport(
        proxy=config.proxy, max_idle=_MAX_IDLE_CONNECTIONS,
        keepalive_expiry=_KEEPALIVE_EXPIRY_S))
    common: dict[str, Any] = {"max_retries": 0, "timeout": config.timeout_s,
                              "http_client": http_client}
    try:
        if config.kind == "azure":
            if not config.base_url or not config.api_version:
                raise ValueError(f"provider {config.name!r}: Azure needs base_url and api_version")
            if not config.api_key:
                raise ValueError(f"provider {config.name!r}: an API key is required")
            return openai.AzureOpenAI(azure_endpoint=config.base_url,
                                      api_version=config.api_version,
                                      api_key=config.api_key, **common)
        if config.kind == "openai":
            if not config.api_key:
                raise ValueError(f"provider {config.name!r}: an API key is required")
            # Explicit base URL so the SDK never falls back to OPENAI_BASE_URL from the environment.
            return openai.OpenAI(api_key=config.api_key,
                                 base_url=config.base_url or OPENAI_BASE_URL, **common)
        if not config.base_url:
            raise ValueError(f"provider {config.name!r}: an OpenAI-compatible base_url is required")
        return openai.OpenAI(api_key=config.api_key or _DUMMY_KEY, base_url=config.base_url,
                             **common)
    except BaseException:
        http_client.close()
        raise
