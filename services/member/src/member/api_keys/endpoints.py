"""Supplier API keys: staff (admin) issue and revoke them; the gateway reads them internally."""

from fastapi import APIRouter, Query, status
from shared.db import SessionDep
from shared.identity import require_roles
from shared.pagination import Page, PageParamsDep

from member.api_keys import service
from member.api_keys.schemas import ApiKeyCreate, ApiKeyForGateway, ApiKeyIssued, ApiKeyRead
from member.deps import BoxDep, StaffIdDep

router = APIRouter(
    prefix="/admin/v1/members/api-keys", tags=["api keys"], dependencies=[require_roles()]
)
internal = APIRouter(prefix="/internal/v1/api-keys", tags=["internal"], include_in_schema=False)


@router.post("", status_code=status.HTTP_201_CREATED)
async def issue_key(
    body: ApiKeyCreate, session: SessionDep, box: BoxDep, staff_id: StaffIdDep
) -> ApiKeyIssued:
    """Issue a key for a supplier. The secret is in this answer only."""
    return await service.issue(session, box, body, staff_id)


@router.get("")
async def list_keys(
    session: SessionDep, params: PageParamsDep, supplier_id: str | None = Query(default=None)
) -> Page[ApiKeyRead]:
    rows, total = await service.page(session, supplier_id, params.offset, params.page_size)
    return Page.of([ApiKeyRead.model_validate(k) for k in rows], total, params)


@router.post("/{key_id}/revoke")
async def revoke_key(key_id: str, session: SessionDep) -> ApiKeyRead:
    """Revoke a key; the gateway refuses it within its key cache time (10 s by default)."""
    return ApiKeyRead.model_validate(await service.revoke(session, key_id))


@internal.get("/{key_id}")
async def key_for_gateway(key_id: str, session: SessionDep, box: BoxDep) -> ApiKeyForGateway:
    return await service.for_gateway(session, box, key_id)
