"""Abandoned carts: a member whose cart has not changed for ``abandoned_cart_after_s`` gets
one offer (a coupon of ``abandoned_cart_coupon_template_id`` and a WeChat subscription
message through member), at most once per ``abandoned_cart_window_s``, and only for a
cart changed since their last offer (one offer per abandoned cart).

Order owns carts; the scan reads ``GET /internal/v1/carts/stale`` (members whose newest
cart change is older than the idle time). The window is claimed with one conditional
upsert per member (``abandoned_cart_windows``) in the same transaction as the coupon and
the offer row, so replicas and retries never offer twice. The message is sent after that
commit; a member who has not accepted the template (WeChat 43101) keeps the coupon
(``coupon_only``).
"""

import uuid
from datetime import UTC, datetime, timedelta

from shared.db import SessionMaker
from shared.errors import AppError
from shared.http import UpstreamError
from shared.logging import get_logger
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.coupons import service as coupons
from marketing.models import AbandonedCartOffer, AbandonedCartWindow
from marketing.peers import Peers, StaleCart
from marketing.settings import MarketingSettings

log = get_logger(__name__)
BATCH = 100


def enabled(settings: MarketingSettings) -> bool:
    return settings.abandoned_cart_after_s > 0 and (
        settings.abandoned_cart_coupon_template_id is not None
        or settings.abandoned_cart_message_template_id is not None
    )


async def claim_window(
    session: AsyncSession, member_id: uuid.UUID, cart_updated_at: datetime, window_s: int
) -> bool:
    """Take this member's offer window, atomically: True if this caller may offer now."""
    at = datetime.now(UTC)
    table = AbandonedCartWindow.__table__
    claimed = await session.scalar(
        insert(AbandonedCartWindow)
        .values(member_id=member_id, last_offer_at=at)
        .on_conflict_do_update(
            index_elements=[AbandonedCartWindow.member_id],
            set_={"last_offer_at": at},
            where=(table.c.last_offer_at < at - timedelta(seconds=window_s))
            & (table.c.last_offer_at < cart_updated_at),
        )
        .returning(AbandonedCartWindow.member_id)
    )
    return claimed is not None


async def offer(
    sessionmaker: SessionMaker, peers: Peers, settings: MarketingSettings, cart: StaleCart
) -> AbandonedCartOffer | None:
    async with sessionmaker() as session, session.begin():
        if not await claim_window(
            session, cart.member_id, cart.updated_at, settings.abandoned_cart_window_s
        ):
            return None
        template_id = settings.abandoned_cart_coupon_template_id
        coupon_id: str | None = None
        status, detail = "offered", None
        if template_id is not None:
            try:
                async with session.begin_nested():
                    [coupon] = await coupons.grant(session, template_id, [cart.member_id])
                coupon_id = str(coupon.id)
            except AppError as exc:  # sold out, ended: the message still goes
                status, detail = "no_coupon", f"{exc.code}: {exc.message}"[:300]
        row = AbandonedCartOffer(
            id=uuid.uuid4(),
            member_id=cart.member_id,
            cart_updated_at=cart.updated_at,
            coupon_template_id=str(template_id) if template_id else None,
            coupon_id=coupon_id,
            status=status,
            detail=detail,
        )
        session.add(row)
    if settings.abandoned_cart_message_template_id:
        await _message(sessionmaker, peers, settings, row, cart)
    log.info("abandoned_cart.offered", member_id=str(cart.member_id), status=row.status)
    return row


async def _message(
    sessionmaker: SessionMaker,
    peers: Peers,
    settings: MarketingSettings,
    row: AbandonedCartOffer,
    cart: StaleCart,
) -> None:
    assert settings.abandoned_cart_message_template_id is not None
    data = {
        "thing1": "购物车里的宝贝还在等你",
        "amount2": f"¥{cart.goods_fen / 100:.2f}",
        "thing3": "送你一张优惠券，快来下单吧" if row.coupon_id else "库存有限，快来下单吧",
    }
    try:
        await peers.member.send_subscribe_message(
            cart.member_id,
            settings.abandoned_cart_message_template_id,
            data,
            settings.abandoned_cart_message_page,
        )
        return
    except UpstreamError as exc:
        status = "coupon_only" if exc.code == "wechat_not_subscribed" else "message_failed"
        detail = f"{exc.code}: {exc.message}"
    except AppError as exc:
        status, detail = "message_failed", f"{exc.code}: {exc.message}"
    async with sessionmaker() as session, session.begin():
        stored = await session.get(AbandonedCartOffer, row.id, with_for_update=True)
        if stored is not None:
            stored.status = status if stored.coupon_id or status != "coupon_only" else "not_sent"
            stored.detail = detail[:300]
    row.status = status


async def scan(sessionmaker: SessionMaker, peers: Peers, settings: MarketingSettings) -> int:
    """One pass over the stale carts: the number of offers made."""
    if not enabled(settings):
        return 0
    made = 0
    after: datetime | None = None
    while True:
        carts = await peers.order.stale_carts(
            settings.abandoned_cart_after_s, updated_after=after, limit=BATCH
        )
        for cart in carts:
            if await offer(sessionmaker, peers, settings, cart) is not None:
                made += 1
        if len(carts) < BATCH:
            return made
        after = carts[-1].updated_at


async def offers_for(
    session: AsyncSession, member_id: uuid.UUID | None
) -> list[AbandonedCartOffer]:
    query = select(AbandonedCartOffer).order_by(AbandonedCartOffer.created_at.desc()).limit(200)
    if member_id is not None:
        query = query.where(AbandonedCartOffer.member_id == member_id)
    return list(await session.scalars(query))
