"""All tables, split by domain; importing this package registers them on Base.metadata."""
from backend.storage.models.base import Base, TenantOwned, new_id, utcnow
from backend.storage.models.tenancy import RoleGrant, Tenant, TenantDomain, User
from backend.storage.models.drafts import Draft, Feedback
from backend.storage.models.audit import AuditCheckpoint, AuditEvent, AuditHead
from backend.storage.models.limits import LimitCounter, LimitRefusal, LimitRule
from backend.storage.models.knowledge import KbAccess, KbChunk, KbDocument, UserGroup
from backend.storage.models.analytics import (DailyUsage, LatencyBucket, PiiDaily,
                                              RollupState, TeamLatencyBucket, UserMonth)

__all__ = ["Base", "TenantOwned", "new_id", "utcnow", "Tenant", "TenantDomain", "User",
           "RoleGrant", "Draft", "Feedback", "AuditEvent", "AuditHead", "AuditCheckpoint",
           "DailyUsage", "LatencyBucket", "TeamLatencyBucket", "PiiDaily", "UserMonth",
           "RollupState", "LimitRule", "LimitCounter", "LimitRefusal"]
