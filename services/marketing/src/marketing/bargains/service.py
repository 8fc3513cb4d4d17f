"""Bargain (砍价): rules.

- A member starts one bargain per activity, at the activity's start price, open for
  ``duration_s``.
- Friends help once each (never the owner): each help cuts ``cuts.next_cut`` under a lock
  on the bargain row, so concurrent helps serialise and the price never goes below the
  floor; a (bargain, helper) primary key backs "once each".
- The owner may buy at the current price while the bargain is ``active`` (usually once the
  floor is reached); checkout's ``activity.ref`` is the bargain id. An order holds the
  bargain (``ordered``: no more helps); paid → ``purchased``; cancelled → ``active`` again
  (or ``expired``). Past ``expires_at`` an active bargain is ``expired``.
"""

import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.bargains import cuts
from marketing.bargains.errors import (
    AlreadyHelped,
    BargainActivityNotFound,
    BargainAtFloor,
    BargainClosed,
    BargainExists,
    BargainNotFound,
    OwnBargain,
)
from marketing.bargains.schemas import BargainOut, HelpOut, HelpResult
from marketing.group_buys.errors import ActivityInUse, ActivityNotRunning, ActivityPriceInvalid
from marketing.models import Bargain, BargainActivity, BargainHelp

_rng = random.SystemRandom()
BATCH = 200


def now() -> datetime:
    return datetime.now(UTC)


async def start(session: AsyncSession, member_id: uuid.UUID, activity_id: uuid.UUID) -> Bargain:
    activity = await session.get(BargainActivity, activity_id)
    if activity is None:
        raise BargainActivityNotFound(f"No bargain offer {activity_id}.")
    at = now()
    if not (activity.enabled and activity.starts_at <= at < activity.ends_at):
        raise ActivityNotRunning("This bargain offer is not running.")
    bargain = Bargain(
        id=uuid.uuid4(),
        activity_id=activity.id,
        member_id=member_id,
        sku_id=activity.sku_id,
        start_price_fen=activity.start_price_fen,
        floor_price_fen=activity.floor_price_fen,
        current_price_fen=activity.start_price_fen,
        target_helps=activity.target_helps,
        helps_count=0,
        status="active",
        order_attempts=0,
        expires_at=at + timedelta(seconds=activity.duration_s),
    )
    try:
        async with session.begin_nested():
            session.add(bargain)
            await session.flush()
    except IntegrityError as exc:
        raise BargainExists("You already started a bargain for this offer.") from exc
    return bargain


async def locked(session: AsyncSession, bargain_id: uuid.UUID) -> Bargain:
    bargain = await session.scalar(
        select(Bargain).where(Bargain.id == bargain_id).with_for_update()
    )
    if bargain is None:
        raise BargainNotFound(f"No bargain {bargain_id}.")
    return bargain


async def help_cut(
    session: AsyncSession, helper_id: uuid.UUID, bargain_id: uuid.UUID
) -> HelpResult:
    bargain = await locked(session, bargain_id)  # helps of one bargain serialise here
    if bargain.member_id == helper_id:
        raise OwnBargain("You cannot help your own bargain.")
    if bargain.status != "active" or bargain.expires_at <= now():
        raise BargainClosed("This bargain is closed.")
    if bargain.current_price_fen <= bargain.floor_price_fen:
        raise BargainAtFloor("This bargain is already at its lowest price.")
    done = await session.get(BargainHelp, (bargain_id, helper_id))
    if done is not None:
        raise AlreadyHelped("You have already helped this bargain.")
    cut = cuts.next_cut(
        bargain.current_price_fen,
        bargain.floor_price_fen,
        bargain.target_helps,
        bargain.helps_count,
        _rng,
    )
    session.add(BargainHelp(bargain_id=bargain_id, helper_member_id=helper_id, cut_fen=cut))
    bargain.current_price_fen -= cut
    bargain.helps_count += 1
    await session.flush()
    return HelpResult(
        cut_fen=cut,
        current_price_fen=bargain.current_price_fen,
        reached_floor=bargain.current_price_fen == bargain.floor_price_fen,
    )


async def price(
    session: AsyncSession,
    ref: uuid.UUID,
    member_id: uuid.UUID,
    sku_id: uuid.UUID,
    quantity: int,
    order_id: uuid.UUID | None,
) -> tuple[int, str]:
    bargain = (
        await session.scalar(select(Bargain).where(Bargain.id == ref).with_for_update())
        if order_id
        else await session.get(Bargain, ref)
    )
    if bargain is None or bargain.member_id != member_id:
        raise ActivityPriceInvalid("That bargain is not yours.")
    if bargain.sku_id != sku_id or quantity != 1:
        raise ActivityPriceInvalid("A bargain order is one unit of the bargain's SKU.")
    if order_id is not None and bargain.order_id == order_id:
        return bargain.current_price_fen, f"{bargain.id}.{bargain.order_attempts}"
    if bargain.status == "ordered":
        raise ActivityInUse("This bargain already has an order.")
    if bargain.status != "active" or bargain.expires_at <= now():
        raise ActivityPriceInvalid("This bargain is closed.")
    if order_id is not None:
        bargain.order_id = order_id
        bargain.status = "ordered"
        bargain.order_attempts += 1
        await session.flush()
    return bargain.current_price_fen, f"{bargain.id}.{bargain.order_attempts}"


async def _for_order(session: AsyncSession, order_id: uuid.UUID) -> Bargain | None:
    return await session.scalar(
        select(Bargain).where(Bargain.order_id == order_id).with_for_update()
    )


async def release(session: AsyncSession, order_id: uuid.UUID) -> bool:
    bargain = await _for_order(session, order_id)
    if bargain is None or bargain.status != "ordered":
        return False
    bargain.order_id = None
    bargain.status = "active" if bargain.expires_at > now() else "expired"
    return True


async def order_paid(session: AsyncSession, order_id: uuid.UUID) -> None:
    bargain = await _for_order(session, order_id)
    if bargain is not None and bargain.status == "ordered":
        bargain.status = "purchased"


async def order_cancelled(session: AsyncSession, order_id: uuid.UUID) -> None:
    await release(session, order_id)


async def expire(session: AsyncSession) -> int:
    rows = list(
        await session.scalars(
            select(Bargain)
            .where(Bargain.status == "active", Bargain.expires_at < now())
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for bargain in rows:
        bargain.status = "expired"
    return len(rows)


async def out(session: AsyncSession, bargain: Bargain) -> BargainOut:
    helps = await session.scalars(
        select(BargainHelp)
        .where(BargainHelp.bargain_id == bargain.id)
        .order_by(BargainHelp.created_at)
    )
    return BargainOut.model_validate(bargain).model_copy(
        update={"helps": [HelpOut.model_validate(h) for h in helps]}
    )
