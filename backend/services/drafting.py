"""The drafting use-case: one pipeline for every surface.

identify (done by the caller) → authorise → read the message → redact → compose with the
provider chain (offline drafter last) → restore → record usage and audit → answer, either as
one result or as a stream of events ending in exactly one Done or Error.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

from backend.drafting.language import detect_language
from backend.drafting.model import DraftContext, DraftOptions, MailThread
from backend.drafting.output import clean_draft, draft_to_html
from backend.drafting.prompt import build_messages
from backend.drafting.quoting import split_body
from backend.drafting.tokens import estimate_tokens
from backend.errors import UnprocessableContent
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.governance.pii import PiiBlocked, Redactor, redact_context, restore
from backend.providers.llm.base import CompletionRequest, Finished, LLMProvider, TextDelta, Usage
from backend.providers.llm.chain import AllProvidersFailed, Attempt, ProviderChain, Reset
from backend.providers.llm.offline import OfflineProvider
from backend.services import audit, tenants, thread_context
from backend.services import throughput
from backend.services import grounding
from backend.services.drafts_store import save_draft
from backend.services.runtime import Runtime
from backend.services.stream_text import VisibleStream

log = logging.getLogger(__name__)

OFFLINE_NOTICE = ("The AI providers are unavailable right now, so this is an offline draft: "
                  "fill in the bracketed parts before sending.")
_OFFLINE = OfflineProvider()


@dataclass(frozen=True)
class DraftRequest:
    """A surface's request, already translated from its wire format."""

    thread: MailThread
    options: DraftOptions = field(default_factory=DraftOptions)
    surface: str = "api"
    # Outlook: the conversation to read from Graph (tenant policy graph_context) with the
    # caller's own Entra token, exchanged on-behalf-of. Never printed.
    conversation_id: str | None = None
    user_assertion: str | None = field(default=None, repr=False)
    # A surface with its own hard time limit (Gmail cards: ~30 s) sets a shorter deadline; when
    # providers can't finish within it, the offline drafter answers instead.
    deadline_s: float | None = None
    # Regenerate: skip the draft cache (the fresh answer replaces the cached one).
    regenerate: bool = False


@dataclass(frozen=True)
class DraftResult:
    """A finished draft and how it was made."""

    id: str
    text: str
    html: str
    provider: str
    model: str
    status: str                 # completed | offline
    offline_fallback: bool
    notice: str | None
    language: str
    usage: Usage
    cost_usd: Decimal
    total_ms: int
    ttft_ms: int | None
    attempts: int
    failovers: int
    pii_counts: dict[str, int]
    cached: bool = False        # answered from the draft cache: no provider call
    sources: tuple[grounding.SourceRef, ...] = ()  # knowledge passages given to the drafter


@dataclass(frozen=True)
class Delta:
    """Text to append to what the user sees."""

    text: str


@dataclass(frozen=True)
class Restart:
    """Discard the text shown so far: the stream broke and another attempt follows."""

    reason: str


@dataclass(frozen=True)
class Done:
    result: DraftResult


DraftEvent = Delta | Restart | Done


@dataclass
class _Prepared:
    request: CompletionRequest
    mapping: dict[str, str]
    pii_counts: dict[str, int]
    language: str
    providers: list[LLMProvider]
    keep_text: bool
    deadline_s: float
    # The same request before redaction, for the offline drafter only: it runs in this process
    # and sends nothing anywhere, so it may greet "Jane" rather than a placeholder.
    local_request: CompletionRequest | None = None
    sources: tuple[grounding.SourceRef, ...] = ()


def prepare(rt: Runtime, principal: Principal, req: DraftRequest) -> tuple[DraftContext, _Prepared]:
    """Parse, redact and build the prompt: exactly what would leave for a provider."""
    policy = tenants.policy_for(rt, principal.tenant_id)
    req = thread_context.with_graph_context(rt, principal, req, policy)
    message = req.thread.message
    parsed = split_body(message.body_text)
    language = req.options.language or detect_language(parsed.latest or message.body_text)
    context = DraftContext(
        subject=message.subject, sender=message.sender, latest=parsed.latest,
        quoted_history=parsed.quoted_history, signature=parsed.signature,
        earlier=tuple(split_body(m.body_text).latest for m in req.thread.earlier),
        language=language, user_name=principal.display_name or "")
    redactor = Redactor(policy.pii, known_names=_known_names(req.thread, parsed.signature,
                                                            principal))
    try:
        safe_context = redact_context(context, redactor)
        options = req.options
        safe_options = replace(
            options, instructions=redactor.redact(options.instructions),
            previous_draft=(redactor.redact(options.previous_draft)
                            if options.previous_draft else None))
    except PiiBlocked as exc:
        with rt.db.session(principal.tenant_id) as session:
            audit.record(rt, session, principal, "draft.create", result="denied",
                         details={"reason": "pii_blocked", "types": list(exc.types),
                                  "surface": req.surface})
        # Names the kinds of data only: the values must not travel in an error.
        raise UnprocessableContent(
            "This message contains personal data your organisation does not allow to be sent "
            f"to an AI provider ({', '.join(exc.types)}).", code="pii_blocked",
            types=list(exc.types)) from None
    # Passages of documents the user may read, redacted in the same session (issue 8).
    safe_sources, sources, shown = grounding.sources_for(
        rt, principal, safe_context.subject, safe_context.latest, options, redactor,
        user_assertion=req.user_assertion)
    safe_context = replace(safe_context, sources=safe_sources)
    context = replace(context, sources=sources)
    messages = build_messages(safe_context, safe_options,
                              token_budget=rt.settings.prompt_token_budget)
    completion = CompletionRequest(messages=messages, context=safe_context, options=safe_options,
                                   max_tokens=rt.settings.max_output_tokens)
    return safe_context, _Prepared(completion, dict(redactor.mapping), redactor.counts(),
                                   language, policy.providers.filter(rt.providers),
                                   policy.keep_draft_text,
                                   min(req.deadline_s or rt.settings.draft_deadline_s,
                                       rt.settings.draft_deadline_s),
                                   replace(completion, context=context, options=options),
                                   sources=shown)


def _known_names(thread: MailThread, signature: str, principal: Principal) -> list[str]:
    message = thread.message
    people = [message.sender, *message.to, *message.cc]
    for earlier in thread.earlier:
        people.append(earlier.sender)
    names = [p.name for p in people if p is not None and p.name]
    if principal.display_name:
        names.append(principal.display_name)
    # The signature's first lines usually carry the sender's name (after the closing line).
    for line in signature.splitlines()[:3]:
        words = line.strip().split()
        if 2 <= len(words) <= 4 and all(w[:1].isupper() and w.isalpha() for w in words):
            names.append(line.strip())
    return names


def stream_draft(rt: Runtime, principal: Principal, req: DraftRequest) -> Iterator[DraftEvent]:
    """Authorise and prepare now (errors surface before any byte is sent), then return the
    event stream: deltas as they arrive, Restart when a broken stream is retried, one Done."""
    rbac.require(principal, "draft.create")
    started = time.perf_counter()
    _, prepared = prepare(rt, principal, req)
    # Draft cache lookup, then limits and budget reservation: a refusal is a plain 429.
    gate = throughput.enter(rt, principal, prepared.request, prepared.providers,
                            surface=req.surface, regenerate=req.regenerate)
    events = _run(rt, principal, req, prepared, _RunState(started, gate=gate))
    next(events)  # into _run's try: from now on closing (or dropping) it settles the budget
    return events


def _run(rt: Runtime, principal: Principal, req: DraftRequest, prepared: _Prepared,
         state: _RunState) -> Iterator[DraftEvent]:
    visible = VisibleStream(prepared.mapping)
    finished = False
    try:
        yield None  # type: ignore[misc]  # the priming step of stream_draft; never seen outside
        for event in _compose(rt, prepared, state):
            if isinstance(event, TextDelta):
                state.raw.append(event.text)
                shown = visible.feed(event.text)
                if shown:
                    state.first_token()
                    yield Delta(shown)
            elif isinstance(event, Reset):
                state.raw.clear()
                visible = VisibleStream(prepared.mapping)
                yield Restart(event.reason)
        tail = visible.finish()
        if tail:
            state.first_token()
            yield Delta(tail)
        result = _finish(rt, principal, req, prepared, state)
        finished = True
        yield Done(result)
    finally:
        if not finished and state.attempts:
            # The client went away (or recording failed) after a provider was called: the
            # tokens were still spent, so they are still accounted for.
            _record_cancelled(rt, principal, req, prepared, state)
        throughput.settle(state.gate, 0)  # a reservation nothing settled is released whole


def create_draft(rt: Runtime, principal: Principal, req: DraftRequest) -> DraftResult:
    """Draft a reply and return it whole."""
    for event in stream_draft(rt, principal, req):
        if isinstance(event, Done):
            return event.result
    raise RuntimeError("draft stream ended without a result")  # pragma: no cover


@dataclass
class _RunState:
    started: float
    raw: list[str] = field(default_factory=list)
    finish: Finished | None = None
    provider: str = ""
    attempts: int = 0
    failovers: int = 0
    offline_fallback: bool = False
    ttft_ms: int | None = None
    gate: throughput.Gate | None = None

    def first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = int((time.perf_counter() - self.started) * 1000)


def _compose(rt: Runtime, prepared: _Prepared, state: _RunState) -> Iterator[object]:
    """Provider chain events; the offline drafter answers when nothing else can."""
    hit = state.gate.hit if state.gate else None
    if hit is not None:  # the draft cache answers: the provider's redacted text, restored as usual
        state.provider = hit.provider
        state.finish = Finished("stop", hit.model, Usage(hit.prompt_tokens, hit.completion_tokens))
        yield TextDelta(hit.text)
        return
    if prepared.providers:
        chain = ProviderChain(prepared.providers, deadline_s=prepared.deadline_s,
                              max_attempts_per_provider=rt.settings.max_attempts_per_provider,
                              breaker=rt.breakers)
        try:
            # The context manager closes upstream sockets as soon as our client goes away.
            with chain.stream(prepared.request) as events:
                for event in events:
                    if isinstance(event, Finished):
                        state.finish = event
                    elif isinstance(event, (TextDelta, Reset)):
                        yield event
                    elif isinstance(event, Attempt):
                        state.provider = event.provider
                        state.attempts += 1
                    state.failovers = events.failovers
            return
        except AllProvidersFailed as exc:
            if (busy := throughput.saturated(exc)) is not None:
                state.attempts = 0  # nothing reached a provider that we could bill: record none
                raise busy from None
            log.warning("all providers failed; offline fallback",
                        extra={"errors": [f"{e.provider}: {e.reason}" for e in exc.errors]})
            state.offline_fallback = True
            # The chain has already reset any partial text before giving up.
    state.provider = _OFFLINE.name
    state.attempts += 1
    for event in _OFFLINE.stream(prepared.local_request or prepared.request,
                                 rt.settings.draft_deadline_s):
        if isinstance(event, Finished):
            state.finish = event
        else:
            yield event


def _cost(rt: Runtime, model: str, usage: Usage) -> Decimal:
    price_in, price_out = rt.settings.prices.get(model, (Decimal(0), Decimal(0)))
    return ((price_in * usage.prompt_tokens + price_out * usage.completion_tokens)
            / 1000).quantize(Decimal("0.000001"))


def _usage(prepared: _Prepared, state: _RunState, text: str) -> Usage:
    if state.finish is not None and state.finish.usage is not None:
        return state.finish.usage
    # Some compatible servers send no usage: estimate so budgets and costs still count.
    prompt = 0 if state.provider == _OFFLINE.name else sum(
        estimate_tokens(m.content) for m in prepared.request.messages)
    return Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(text))


def _finish(rt: Runtime, principal: Principal, req: DraftRequest, prepared: _Prepared,
            state: _RunState) -> DraftResult:
    raw = "".join(state.raw)
    text = restore(clean_draft(raw), prepared.mapping)
    model = state.finish.model if state.finish else _OFFLINE.model
    usage = _usage(prepared, state, raw)
    cost = _cost(rt, model, usage)
    total_ms = int((time.perf_counter() - state.started) * 1000)
    status = "offline" if state.provider == _OFFLINE.name else "completed"
    usage, cost, saved = throughput.account(rt, state.gate, raw=raw, status=status,
                                            provider=state.provider, model=model, usage=usage,
                                            cost=cost)
    cached = state.gate is not None and state.gate.hit is not None
    draft_id = save_draft(rt, principal, surface=req.surface, status=status,
                          provider=state.provider, model=model, options=req.options,
                          language=prepared.language, usage=usage, cost=cost,
                          latency_ms=total_ms, ttft_ms=state.ttft_ms, attempts=state.attempts,
                          failovers=state.failovers, offline_fallback=state.offline_fallback,
                          text=text, keep_text=prepared.keep_text,
                          pii_counts=prepared.pii_counts, cached=cached, saved_usd=saved)
    return DraftResult(
        id=draft_id, text=text, html=draft_to_html(text), provider=state.provider, model=model,
        status=status, offline_fallback=state.offline_fallback,
        notice=OFFLINE_NOTICE if state.offline_fallback else None, language=prepared.language,
        usage=usage, cost_usd=cost, total_ms=total_ms, ttft_ms=state.ttft_ms,
        attempts=state.attempts, failovers=state.failovers, pii_counts=prepared.pii_counts,
        cached=cached, sources=prepared.sources)


def _record_cancelled(rt: Runtime, principal: Principal, req: DraftRequest,
                      prepared: _Prepared, state: _RunState) -> None:
    try:
        raw = "".join(state.raw)
        usage = _usage(prepared, state, raw)
        model = state.finish.model if state.finish else ""
        save_draft(rt, principal, surface=req.surface, status="cancelled",
                   provider=state.provider, model=model, options=req.options,
                   language=prepared.language, usage=usage, cost=_cost(rt, model, usage),
                   latency_ms=int((time.perf_counter() - state.started) * 1000),
                   ttft_ms=state.ttft_ms, attempts=state.attempts, failovers=state.failovers,
                   offline_fallback=state.offline_fallback, text=None, keep_text=False,
                   pii_counts=prepared.pii_counts)
        throughput.settle(state.gate, 0 if state.provider == _OFFLINE.name else usage.total_tokens)
    except Exception:  # never let accounting break the request teardown
        log.exception("could not record a cancelled draft")
