"""Every query on ``reconciliations``."""

import uuid
from datetime import date
from typing import Any

from shared.pagination import PageParams
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment.models import Reconciliation

SYSTEM = "system"


async def page(session: AsyncSession, params: PageParams) -> tuple[list[Reconciliation], int]:
    total = await session.scalar(select(func.count()).select_from(Reconciliation))
    rows = await session.scalars(
        select(Reconciliation)
        .order_by(Reconciliation.created_at.desc(), Reconciliation.id)
        .offset(params.offset)
        .limit(params.page_size)
    )
    return list(rows), int(total or 0)


async def daily_exists(session: AsyncSession, bill_date: date) -> bool:
    found = await session.scalar(
        select(Reconciliation.id).where(
            Reconciliation.bill_date == bill_date, Reconciliation.run_by == SYSTEM
        )
    )
    return found is not None


async def add(session: AsyncSession, values: dict[str, Any]) -> Reconciliation:
    row = Reconciliation(id=uuid.uuid4(), **values)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def add_daily(session: AsyncSession, values: dict[str, Any]) -> bool:
    """The daily run's report, once per day (another replica may have stored it)."""
    inserted = await session.scalar(
        insert(Reconciliation)
        .values(id=uuid.uuid4(), run_by=SYSTEM, **values)
        .on_conflict_do_nothing(
            index_elements=["bill_date"], index_where=Reconciliation.run_by == SYSTEM
        )
        .returning(Reconciliation.id)
    )
    return inserted is not None
