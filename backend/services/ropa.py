"""The record of processing activities (GDPR Art. 30), generated from the configuration so it
always names the providers and retention actually in force."""
from __future__ import annotations

from typing import Any

from backend.config import Settings

_PROVIDER_LOCATION = {"openai": "OpenAI (United States unless a regional endpoint is set)",
                      "azure": "Microsoft Azure OpenAI (the configured resource's region)",
                      "compatible": "a self-hosted or third-party OpenAI-compatible server",
                      "echo": "none (in-process test provider)",
                      "offline": "none (built-in offline drafter)"}


def record_of_processing(settings: Settings) -> dict[str, Any]:
    """The Art. 30 record as data plus a Markdown rendering."""
    recipients = [{"name": p.name, "kind": p.kind, "model": p.model, "region": p.region,
                   "endpoint": p.base_url or "provider default",
                   "description": _PROVIDER_LOCATION.get(p.kind, p.kind)}
                  for p in settings.providers]
    record = {
        "controller": "The customer organisation (tenant) deploying Replywise",
        "processor": "Replywise, operated by the deploying organisation",
        "purposes": ["Drafting email replies at the request of the user",
                     "Usage accounting, budgets and service analytics (content-free)",
                     "Security and accountability (audit trail)"],
        "data_subjects": ["Users of Replywise (employees of the tenant)",
                          "Correspondents whose email the user answers"],
        "data_categories": {
            "sent_to_providers": "The message being answered, its thread and the user's "
                                 "instructions, after personal data is replaced by placeholders "
                                 "(emails, phone numbers, card numbers, IBANs, SSNs, IP "
                                 "addresses, names, tenant-defined patterns)",
            "stored": "User identifier, email and display name; role grants; per-draft usage "
                      "metadata (time, provider, model, tokens, cost, latency, counts of "
                      "redacted items); feedback (inserted/discarded, rating); audit events "
                      "with keyed pseudonyms instead of identities",
            "stored_only_on_opt_in": "Draft text and the final sent text, when a tenant "
                                     "enables draft retention",
            "never_stored": "Message bodies, thread content and the redacted values",
        },
        "recipients": recipients or [{"name": "offline", "kind": "offline",
                                      "description": _PROVIDER_LOCATION["offline"]}],
        "retention": {"draft_text_default_days": settings.default_retention_days,
                      "per_tenant_override": "tenant policy retention_days",
                      "audit_trail": "kept for accountability; identities are pseudonymised "
                                     "and unlinkable after erasure"},
        "security_measures": ["TLS in transit", "PII redaction before any provider call",
                              "role-based access with separation of duties",
                              "hash-chained audit trail with signed checkpoints"
                              + ("" if settings.audit_signing_key else " (signing key not set)"),
                              "tenant isolation on every query"],
    }
    record["markdown"] = _markdown(record)
    return record


def _markdown(record: dict[str, Any]) -> str:
    lines = ["# Record of processing activities (GDPR Art. 30): Replywise", "",
             f"**Controller:** {record['controller']}  ", f"**Processor:** {record['processor']}",
             "", "## Purposes", *[f"- {p}" for p in record["purposes"]], "",
             "## Data subjects", *[f"- {s}" for s in record["data_subjects"]], "",
             "## Categories of personal data"]
    lines += [f"- **{k.replace('_', ' ')}:** {v}" for k, v in record["data_categories"].items()]
    lines += ["", "## Recipients (LLM providers)"]
    lines += [f"- {r['name']} ({r['kind']}, model {r.get('model', '-')}, region "
              f"{r.get('region', '-')}): {r['description']}" for r in record["recipients"]]
    lines += ["", "## Retention"]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in record["retention"].items()]
    lines += ["", "## Security measures", *[f"- {m}" for m in record["security_measures"]]]
    return "\n".join(lines)
