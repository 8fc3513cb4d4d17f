"""Staff management by admins: ``/admin/v1/members/staff``."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import require_roles
from shared.pagination import Page, PageParamsDep

from member.deps import RedisDep
from member.staff import repository, service
from member.staff.schemas import PasswordSet, StaffCreate, StaffRead, StaffUpdate

router = APIRouter(
    prefix="/admin/v1/members/staff", tags=["staff"], dependencies=[require_roles("admin")]
)


@router.get("")
async def list_staff(session: SessionDep, params: PageParamsDep) -> Page[StaffRead]:
    rows, total = await repository.page(session, params.offset, params.page_size)
    return Page.of([StaffRead.model_validate(s) for s in rows], total, params)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_staff(body: StaffCreate, session: SessionDep) -> StaffRead:
    return StaffRead.model_validate(await service.create(session, body))


@router.get("/{staff_id}")
async def get_staff(staff_id: uuid.UUID, session: SessionDep) -> StaffRead:
    return StaffRead.model_validate(await service.get(session, staff_id))


@router.patch("/{staff_id}")
async def update_staff(staff_id: uuid.UUID, body: StaffUpdate, session: SessionDep) -> StaffRead:
    return StaffRead.model_validate(await service.update(session, staff_id, body))


@router.put("/{staff_id}/password", status_code=status.HTTP_204_NO_CONTENT)
async def set_password(staff_id: uuid.UUID, body: PasswordSet, session: SessionDep) -> None:
    await service.set_password(session, staff_id, body.password)


@router.post("/{staff_id}/unlock", status_code=status.HTTP_204_NO_CONTENT)
async def unlock(staff_id: uuid.UUID, session: SessionDep, redis: RedisDep) -> None:
    staff = await service.get(session, staff_id)
    await service.unlock(redis, staff.username)
