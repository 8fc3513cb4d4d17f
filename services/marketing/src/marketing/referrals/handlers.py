"""Order events for referral commissions (through the inbox: each once)."""

import uuid

from shared.events import Event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import ReferralBinding
from marketing.peers import shared_peers
from marketing.referrals import service


async def order_completed(session: AsyncSession, event: Event) -> None:
    member_id = uuid.UUID(event.payload["member_id"])
    bound = await session.scalar(
        select(ReferralBinding.member_id).where(ReferralBinding.member_id == member_id)
    )
    if bound is None:
        return  # no referrer: no need to ask catalog
    sku_ids = [uuid.UUID(i["sku_id"]) for i in event.payload["items"]]
    skus = await shared_peers().catalog.skus(sku_ids)
    await service.on_completed(session, event.payload, skus)


async def order_refunded(session: AsyncSession, event: Event) -> None:
    await service.on_refunded(session, event.payload)


HANDLERS = {
    "order.completed": order_completed,
    "order.refunded": order_refunded,
}
