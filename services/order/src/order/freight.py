"""Freight rules by province, managed by staff: ``/admin/v1/orders/freight-rules``.

The rule whose region is ``*`` applies where no province has its own."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from shared.db import SessionDep
from shared.identity import require_roles
from sqlalchemy import delete, select

from order.models import FreightRule

router = APIRouter(
    prefix="/admin/v1/orders/freight-rules",
    tags=["freight"],
    dependencies=[require_roles("operator")],
)


class FreightRuleIO(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    region: str = Field(min_length=1, max_length=32, description="a province, or * for the rest")
    fee_fen: int = Field(ge=0, le=1_000_000)
    free_over_fen: int | None = Field(default=None, ge=0)


@router.get("")
async def list_rules(session: SessionDep) -> list[FreightRuleIO]:
    rows = await session.scalars(select(FreightRule).order_by(FreightRule.region))
    return [FreightRuleIO.model_validate(r) for r in rows]


@router.put("")
async def replace_rules(rules: list[FreightRuleIO], session: SessionDep) -> list[FreightRuleIO]:
    """Replace every rule at once (one ``*`` rule is recommended)."""
    await session.execute(delete(FreightRule))
    for rule in {r.region: r for r in rules}.values():
        session.add(FreightRule(**rule.model_dump()))
    await session.flush()
    return await list_rules(session)
