"""Recording drafts and feedback: usage metadata always, content only when the tenant opts in."""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from backend.drafting.model import DraftOptions
from backend.errors import Conflict, NotFound
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.providers.llm.base import Usage
from backend.services import accounts, audit
from backend.services.runtime import Runtime
from backend.services.tenants import policy_for
from backend.storage import pg_script
from backend.storage.models import Draft, Feedback, new_id, utcnow


log = logging.getLogger(__name__)

_INSERT_DRAFT = Draft.__table__.insert()  # compiled once; see save_draft
_DRAFT_KEYS = tuple(c.name for c in Draft.__table__.c)
_RECORD_DRAFT = ("BEGIN; " + pg_script.render(Draft.__table__.insert().values(
    {k: bindparam(k) for k in _DRAFT_KEYS})) + "; " + audit.APPEND_SEALED_BY_SERVER_SQL
    + "; COMMIT")


def save_draft(rt: Runtime, principal: Principal, *, surface: str, status: str, provider: str,
               model: str, options: DraftOptions, language: str, usage: Usage, cost: Decimal,
               latency_ms: int, ttft_ms: int | None, attempts: int, failovers: int,
               offline_fallback: bool, text: str | None, keep_text: bool,
               pii_counts: dict[str, int], cached: bool = False,
               saved_usd: Decimal = Decimal(0)) -> str:
    """Insert the draft row and its audit event in one transaction; return the draft id."""
    draft_id = new_id()
    try:
        _insert(rt, principal, draft_id, surface=surface, status=status, provider=provider,
                model=model, options=options, language=language, usage=usage, cost_usd=cost,
                latency_ms=latency_ms, ttft_ms=ttft_ms, attempts=attempts, failovers=failovers,
                offline_fallback=offline_fallback, text=text if keep_text else None,
                text_length=len(text or ""), pii_counts=pii_counts, cached=cached,
                saved_usd=saved_usd)
    except IntegrityError:
        # The user row is gone: erased through another worker while this one still had the
        # user cached. Forget it so the next request starts from the database.
        accounts.forget_cached_user(rt, principal.user_id or "")
        raise Conflict("Your Replywise account changed while this draft was being made "
                       "(it may have been erased). Sign in again and retry.",
                       code="user_changed") from None
    return draft_id


def _insert(rt: Runtime, principal: Principal, draft_id: str, *, options: DraftOptions,
            usage: Usage, **columns) -> None:
    """The draft row and its audit event, in one transaction."""
    row = dict(columns, id=draft_id, tenant_id=principal.tenant_id, user_id=principal.user_id,
               tone=str(options.tone), length=str(options.length),
               refine=str(options.refine) if options.refine else None,
               prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
               created_at=utcnow())
    event = dict(target=("draft", draft_id), provider=columns["provider"],
                 model=columns["model"], prompt_tokens=usage.prompt_tokens,
                 completion_tokens=usage.completion_tokens, cost_usd=columns["cost_usd"],
                 pii_counts=columns["pii_counts"],
                 details={k: columns[k] for k in ("surface", "status", "attempts", "failovers",
                                                  "offline_fallback")})
    if rt.db.dialect == "postgresql":
        _insert_postgresql(rt, principal, row, event)
        return
    with rt.db.session(principal.tenant_id) as session:
        # A Core insert: this is on every draft's path and the ORM unit of work is the slow part.
        session.connection().execute(_INSERT_DRAFT, row)
        audit.record(rt, session, principal, "draft.create", **event)


def _insert_postgresql(rt: Runtime, principal: Principal, row: dict, event: dict) -> None:
    """One round trip: BEGIN, the draft row, the audit event sealed by the server under the
    head's lock, COMMIT (ADR 7). A signed checkpoint, when the new head is due one, follows
    on the same connection."""
    head = None  # the committed head: any error after it concerns the checkpoint alone
    try:
        with pg_script.script_session(rt.db) as script:
            head = script.run(_RECORD_DRAFT, pg_script.adapt(
                {**row, **audit.sealed_by_server(rt, principal, "draft.create", **event)}))
            checkpoint = audit.checkpoint_params(rt, principal.tenant_id, *head)
            if checkpoint is not None:
                script.run(audit.CHECKPOINT_SQL, checkpoint)  # autocommit: its own transaction
    except Exception as exc:
        if head is None:
            raise
        # The draft and its event are committed and the chain is whole; a checkpoint only
        # attests to it, and the next one is due N events on. Failing the draft now would
        # report as lost a draft that is saved.
        log.warning("audit checkpoint not written", extra={
            "seq": head[0], "error_type": type(getattr(exc, "orig", exc)).__name__})


def record_feedback(rt: Runtime, principal: Principal, draft_id: str, *, action: str | None,
                    rating: int | None, final_text: str | None) -> dict:
    """Store feedback on one of the user's own drafts; audited. 404 for anyone else's draft."""
    rbac.require(principal, "draft.feedback")
    keep_text = policy_for(rt, principal.tenant_id).keep_draft_text
    with rt.db.session(principal.tenant_id) as session:
        draft = session.scalars(select(Draft).where(Draft.id == draft_id,
                                                    Draft.user_id == principal.user_id)).first()
        if draft is None:
            raise NotFound("No such draft.")
        ratio = edit_ratio(draft.text, final_text) if final_text is not None else None
        feedback = Feedback(draft_id=draft.id, user_id=principal.user_id, action=action,
                            rating=rating, edit_ratio=ratio,
                            final_text=final_text if keep_text else None)
        session.add(feedback)
        session.flush()
        audit.record(rt, session, principal, "draft.feedback", target=("draft", draft.id),
                     details={"action": action, "rating": rating,
                              "edit_ratio": None if ratio is None else str(ratio)})
        return {"id": feedback.id, "draft_id": draft.id, "action": action, "rating": rating,
                "edit_ratio": None if ratio is None else float(ratio)}


def edit_ratio(draft_text: str | None, final_text: str) -> Decimal | None:
    """Share of the draft the user changed (0 = sent as drafted, 1 = rewritten).

    Needs the draft text, which exists only when the tenant keeps it; otherwise None.
    """
    if draft_text is None:
        return None
    from difflib import SequenceMatcher  # stdlib; word-level keeps it fast on long drafts
    similarity = SequenceMatcher(None, draft_text.split(), final_text.split(),
                                 autojunk=False).ratio()
    return Decimal(str(round(1 - similarity, 4)))
