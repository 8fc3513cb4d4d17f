"""Levels: anyone may read them; admins and operators set them (``/admin/v1/members/levels``)."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import CurrentStaff, require_roles

from member.levels import repository, service
from member.levels.schemas import LevelCreate, LevelRead, LevelUpdate

router = APIRouter(tags=["levels"])
admin = APIRouter(prefix="/admin/v1/members/levels", tags=["levels (staff)"])


@router.get("/api/v1/members/levels")
async def list_levels(session: SessionDep) -> list[LevelRead]:
    return [LevelRead.model_validate(x) for x in await repository.all_levels(session)]


@admin.get("")
async def admin_list_levels(session: SessionDep, _: CurrentStaff) -> list[LevelRead]:
    return [LevelRead.model_validate(x) for x in await repository.all_levels(session)]


@admin.post("", status_code=status.HTTP_201_CREATED, dependencies=[require_roles("operator")])
async def create_level(body: LevelCreate, session: SessionDep) -> LevelRead:
    return LevelRead.model_validate(await service.create(session, body))


@admin.patch("/{level_id}", dependencies=[require_roles("operator")])
async def update_level(level_id: uuid.UUID, body: LevelUpdate, session: SessionDep) -> LevelRead:
    return LevelRead.model_validate(await service.update(session, level_id, body))


@admin.delete(
    "/{level_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[require_roles("operator")]
)
async def delete_level(level_id: uuid.UUID, session: SessionDep) -> None:
    await service.delete(session, level_id)
