"""Tenant scoping in one place: every ORM query on a tenant-owned table is filtered here.

A session is bound to one tenant when it opens. A listener adds `tenant_id = :bound` to every
ORM SELECT, UPDATE and DELETE touching a TenantOwned model, so a service cannot forget the
filter and an id from another tenant simply is not found. Cross-tenant work (retention runs,
migrations of data) must ask for it explicitly with `all_tenants=True`.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from backend.storage.models.base import TenantOwned

_TENANT = "replywise_tenant_id"
_ALL = "replywise_all_tenants"


class UnscopedQuery(RuntimeError):
    """An ORM query ran on a session bound to no tenant and not marked all_tenants."""


def bind(session: Session, tenant_id: str | None, *, all_tenants: bool = False) -> None:
    """Bind a session to a tenant (or to all tenants, for explicit cross-tenant jobs)."""
    session.info[_TENANT] = tenant_id
    session.info[_ALL] = all_tenants


def tenant_of(session: Session) -> str | None:
    """The tenant a session is bound to."""
    return session.info.get(_TENANT)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent query was already scoped
    if state.session.info.get(_ALL):
        return
    tenant_id = state.session.info.get(_TENANT)
    if tenant_id is None:
        if _touches_tenant_owned(state):
            raise UnscopedQuery("query on tenant-owned data without a tenant")
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant_id,
                             include_aliases=True))


def _touches_tenant_owned(state: ORMExecuteState) -> bool:
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantOwned):
            return True
    return False


@event.listens_for(Session, "before_flush")
def _stamp_and_check_tenant(session: Session, _ctx, _instances) -> None:
    # New rows take the session's tenant; a row of another tenant can't be written through it.
    tenant_id = session.info.get(_TENANT)
    if tenant_id is None or session.info.get(_ALL):
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TenantOwned):
            if getattr(obj, "tenant_id", None) is None:
                obj.tenant_id = tenant_id
            elif obj.tenant_id != tenant_id:
                raise UnscopedQuery("write to another tenant's row")
