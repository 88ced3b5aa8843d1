"""A tenant's governance policy: PII handling, allowed providers, retention. Pure and validated.

Stored as JSON on the tenant row; parsed here so a bad value is refused with a message naming
the field, and so the rest of the code works with typed values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from backend.governance.pii import PiiPolicy, PolicyError
from backend.providers.llm.base import LLMProvider


@dataclass(frozen=True)
class ProviderPolicy:
    """Which providers, models and regions may receive the tenant's data (empty = any)."""

    providers: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def admits(self, provider: LLMProvider) -> bool:
        """True if data may go to this provider. The offline drafter never sends data anywhere."""
        if getattr(provider, "is_local", False):
            return True
        return ((not self.providers or provider.name in self.providers)
                and (not self.models or provider.model in self.models)
                and (not self.regions or provider.region in self.regions))

    def filter(self, providers: Sequence[LLMProvider]) -> list[LLMProvider]:
        """The providers this policy allows, in chain order: failover never leaves this list."""
        return [p for p in providers if self.admits(p)]


@dataclass(frozen=True)
class TenantPolicy:
    """Everything a tenant decides about how its data is handled."""

    pii: PiiPolicy = field(default_factory=PiiPolicy)
    providers: ProviderPolicy = field(default_factory=ProviderPolicy)
    keep_draft_text: bool = False
    retention_days: int = 30
    graph_context: bool = False  # read the whole Outlook conversation from Graph (on-behalf-of)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, default_retention_days: int = 30,
                  default_region: str = "US") -> "TenantPolicy":
        """Parse stored/submitted policy JSON; raise PolicyError naming the bad field."""
        data = dict(data or {})
        unknown = set(data) - {"pii", "providers", "keep_draft_text", "retention_days",
                               "graph_context"}
        if unknown:
            raise PolicyError(f"unknown policy field(s): {', '.join(sorted(unknown))}")
        pii_data = data.get("pii") or {}
        if not isinstance(pii_data, dict):
            raise PolicyError("pii must be an object")
        # A copy: filling in the default must not write it into the caller's document, where it
        # would be stored and pin the region even after the deployment's default changes.
        pii_data = {"default_region": default_region, **pii_data}
        keep = data.get("keep_draft_text", False)
        if not isinstance(keep, bool):
            raise PolicyError("keep_draft_text must be true or false")
        days = data.get("retention_days", default_retention_days)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise PolicyError("retention_days must be an integer from 1 to 3650")
        graph_context = data.get("graph_context", False)
        if not isinstance(graph_context, bool):
            raise PolicyError("graph_context must be true or false")
        return cls(pii=PiiPolicy.from_dict(pii_data),
                   providers=_provider_policy(data.get("providers") or {}),
                   keep_draft_text=keep, retention_days=days, graph_context=graph_context)


def _provider_policy(data: Any) -> ProviderPolicy:
    if not isinstance(data, dict):
        raise PolicyError("providers must be an object")
    unknown = set(data) - {"allow", "models", "regions"}
    if unknown:
        raise PolicyError(f"unknown providers field(s): {', '.join(sorted(unknown))}")
    values = {}
    for key in ("allow", "models", "regions"):
        items = data.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise PolicyError(f"providers.{key} must be a list of strings")
        values[key] = frozenset(items)
    return ProviderPolicy(values["allow"], values["models"], values["regions"])
