"""All tables, split by domain; importing this package registers them on Base.metadata."""
from backend.storage.models.base import Base, TenantOwned, new_id, utcnow
from backend.storage.models.tenancy import RoleGrant, Tenant, User
from backend.storage.models.drafts import Draft, Feedback
from backend.storage.models.audit import AuditCheckpoint, AuditEvent, AuditHead

__all__ = ["Base", "TenantOwned", "new_id", "utcnow", "Tenant", "User", "RoleGrant", "Draft",
           "Feedback", "AuditEvent", "AuditHead", "AuditCheckpoint"]
