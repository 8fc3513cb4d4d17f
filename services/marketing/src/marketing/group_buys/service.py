"""Group-buy (拼团): rules.

- A leader opens a group (``pending``) and takes the first slot; the group becomes
  ``forming`` (joinable through its share page) once the leader has paid.
- A slot is ``reserved`` when taken and counts against the size at once, so N+1 concurrent
  joins of a group of N leave exactly N slots (the group row is locked, ``FOR UPDATE``).
  A member holds at most one live slot per group (and per activity): a partial unique index
  backs the check. ``joined`` means paid.
- The slot's id is the order's ``activity.ref``: order asks for the price (``quote``), then
  binds the slot to the order (``claim``); a failed creation gives it back (``release``).
- ``order.paid`` joins the slot; when all N have paid the group ``succeeded``
  (``marketing.group_succeeded``: order lets those orders ship). ``order.cancelled`` frees
  the slot. A slot never ordered is freed after ``group_join_hold_s``.
- A group past ``expires_at`` that is not full ``failed``
  (``marketing.group_failed``: order cancels the unpaid orders and refunds the paid ones
  through WeChat Pay). A payment that lands on a closed group is refunded the same way.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.group_buys.errors import (
    ActivityInUse,
    ActivityNotFound,
    ActivityNotRunning,
    ActivityPriceInvalid,
    AlreadyInGroup,
    GroupFull,
    GroupNotFound,
    GroupNotOpen,
)
from marketing.group_buys.schemas import GroupOut, MembershipOut, SlotOut, StaffGroupOut
from marketing.models import GroupBuyActivity, GroupBuyGroup, GroupBuyMember

log = get_logger(__name__)

LIVE = ("reserved", "joined")
OPEN = ("pending", "forming")
BATCH = 100


def now() -> datetime:
    return datetime.now(UTC)


async def _member_lock(session: AsyncSession, activity_id: uuid.UUID, member_id: Any) -> None:
    """Serialise one member's slots in one activity (one live slot per activity)."""
    key = f"group_buy:{activity_id}:{member_id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


async def _has_live_slot(
    session: AsyncSession, activity_id: uuid.UUID, member_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(GroupBuyMember.id)
        .join(GroupBuyGroup, GroupBuyGroup.id == GroupBuyMember.group_id)
        .where(
            GroupBuyGroup.activity_id == activity_id,
            GroupBuyGroup.status.in_(OPEN),
            GroupBuyMember.member_id == member_id,
            GroupBuyMember.status.in_(LIVE),
        )
        .limit(1)
    )
    return found is not None


def running(activity: GroupBuyActivity, at: datetime) -> bool:
    return activity.enabled and activity.starts_at <= at < activity.ends_at


async def open_group(
    session: AsyncSession, member_id: uuid.UUID, activity_id: uuid.UUID
) -> GroupBuyMember:
    activity = await session.get(GroupBuyActivity, activity_id)
    if activity is None:
        raise ActivityNotFound(f"No group-buy {activity_id}.")
    at = now()
    if not running(activity, at):
        raise ActivityNotRunning("This group-buy is not running.")
    await _member_lock(session, activity_id, member_id)
    if await _has_live_slot(session, activity_id, member_id):
        raise AlreadyInGroup("You already have a group of this offer in progress.")
    group = GroupBuyGroup(
        id=uuid.uuid4(),
        activity_id=activity.id,
        leader_member_id=member_id,
        sku_id=activity.sku_id,
        price_fen=activity.group_price_fen,
        size=activity.group_size,
        status="pending",
        paid_count=0,
        expires_at=at + timedelta(seconds=activity.duration_s),
    )
    session.add(group)
    await session.flush()
    slot = GroupBuyMember(
        id=uuid.uuid4(), group_id=group.id, member_id=member_id, is_leader=True, status="reserved"
    )
    session.add(slot)
    await session.flush()
    return slot


async def _locked_group(session: AsyncSession, group_id: uuid.UUID) -> GroupBuyGroup:
    group = await session.scalar(
        select(GroupBuyGroup).where(GroupBuyGroup.id == group_id).with_for_update()
    )
    if group is None:
        raise GroupNotFound(f"No group {group_id}.")
    return group


async def _live_count(session: AsyncSession, group_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(GroupBuyMember)
        .where(GroupBuyMember.group_id == group_id, GroupBuyMember.status.in_(LIVE))
    )
    return int(count or 0)


async def join(session: AsyncSession, member_id: uuid.UUID, group_id: uuid.UUID) -> GroupBuyMember:
    group = await _locked_group(session, group_id)  # joins of one group serialise here
    if group.status != "forming" or group.expires_at <= now():
        raise GroupNotOpen(
            "This group cannot be joined yet." if group.status == "pending" else "Group closed."
        )
    await _member_lock(session, group.activity_id, member_id)
    if await _has_live_slot(session, group.activity_id, member_id):
        raise AlreadyInGroup("You are already in a group of this offer.")
    if await _live_count(session, group_id) >= group.size:
        raise GroupFull("This group is full.")
    slot = GroupBuyMember(
        id=uuid.uuid4(), group_id=group.id, member_id=member_id, is_leader=False, status="reserved"
    )
    session.add(slot)
    await session.flush()
    return slot


# -- the activity price (order's checkout) ------------------------------------------------


async def price(
    session: AsyncSession,
    ref: uuid.UUID,
    member_id: uuid.UUID,
    sku_id: uuid.UUID,
    quantity: int,
    order_id: uuid.UUID | None,
) -> tuple[int, str]:
    """The unit price for a checkout with slot ``ref``; with ``order_id`` the slot is bound
    to that order (idempotent). Returns (unit price, ticket)."""
    slot = await session.get(GroupBuyMember, ref)
    if slot is None or slot.member_id != member_id:
        raise ActivityPriceInvalid("That group-buy slot is not yours.")
    group = (
        await _locked_group(session, slot.group_id)
        if order_id
        else await session.get(GroupBuyGroup, slot.group_id)
    )
    assert group is not None
    if order_id:
        await session.refresh(slot, with_for_update=True)
    if slot.status != "reserved" or group.status not in OPEN or group.expires_at <= now():
        raise ActivityPriceInvalid("That group-buy slot is no longer open.")
    if group.sku_id != sku_id or quantity != 1:
        raise ActivityPriceInvalid("A group-buy order is one unit of the group's SKU.")
    if slot.order_id is not None and slot.order_id != order_id:
        raise ActivityInUse("This group-buy slot already has an order.")
    if order_id is not None:
        slot.order_id = order_id
        await session.flush()
    return group.price_fen, str(slot.id)


async def release(session: AsyncSession, order_id: uuid.UUID) -> bool:
    """An order creation failed: the slot no longer holds that order (it stays reserved)."""
    slot = await session.scalar(
        select(GroupBuyMember).where(GroupBuyMember.order_id == order_id).with_for_update()
    )
    if slot is None or slot.status != "reserved":
        return False
    slot.order_id = None
    return True


# -- order events ----------------------------------------------------------------------------


def _orders_payload(slots: list[GroupBuyMember]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": str(s.order_id),
            "member_id": str(s.member_id),
            "paid": s.status == "joined" or s.joined_at is not None,
        }
        for s in slots
        if s.order_id is not None
    ]


def _publish_failed(
    session: AsyncSession, group: GroupBuyGroup, slots: list[GroupBuyMember], reason: str
) -> None:
    orders = _orders_payload(slots)
    if not orders:
        return
    add_event(
        session,
        "marketing.group_failed",
        str(group.id),
        {
            "group_id": str(group.id),
            "activity_id": str(group.activity_id),
            "reason": reason,
            "orders": orders,
        },
    )


async def _slot_for_order(
    session: AsyncSession, order_id: uuid.UUID
) -> tuple[GroupBuyGroup, GroupBuyMember] | None:
    group_id = await session.scalar(
        select(GroupBuyMember.group_id).where(GroupBuyMember.order_id == order_id)
    )
    if group_id is None:
        return None
    group = await _locked_group(session, group_id)  # group first, then the slot
    slot = await session.scalar(
        select(GroupBuyMember).where(GroupBuyMember.order_id == order_id).with_for_update()
    )
    assert slot is not None
    return group, slot


async def order_paid(session: AsyncSession, order_id: uuid.UUID) -> None:
    found = await _slot_for_order(session, order_id)
    if found is None:
        return
    group, slot = found
    if slot.status != "reserved":
        return  # already applied
    if group.status not in OPEN:
        # Paid after the group closed: the money goes back through order's refund.
        slot.status = "failed"
        slot.joined_at = now()
        _publish_failed(session, group, [slot], f"paid after the group {group.status}")
        log.info("group_buy.late_payment", group_id=str(group.id), order_id=str(order_id))
        return
    slot.status = "joined"
    slot.joined_at = now()
    group.paid_count += 1
    if slot.is_leader and group.status == "pending":
        group.status = "forming"
    if group.paid_count >= group.size:
        group.status = "succeeded"
        group.closed_at = now()
        joined = list(
            await session.scalars(
                select(GroupBuyMember).where(
                    GroupBuyMember.group_id == group.id, GroupBuyMember.status == "joined"
                )
            )
        )
        add_event(
            session,
            "marketing.group_succeeded",
            str(group.id),
            {
                "group_id": str(group.id),
                "activity_id": str(group.activity_id),
                "orders": [
                    {"order_id": str(s.order_id), "member_id": str(s.member_id)} for s in joined
                ],
            },
        )
        log.info("group_buy.succeeded", group_id=str(group.id), size=group.size)


async def order_cancelled(session: AsyncSession, order_id: uuid.UUID) -> None:
    found = await _slot_for_order(session, order_id)
    if found is None:
        return
    group, slot = found
    if slot.status != "reserved":
        return
    slot.status = "cancelled"
    if slot.is_leader and group.status == "pending":
        group.status = "cancelled"
        group.closed_at = now()


async def order_refunded(session: AsyncSession, order_id: uuid.UUID) -> None:
    found = await _slot_for_order(session, order_id)
    if found is not None and found[1].status in ("joined", "failed"):
        found[1].status = "refunded"


# -- time -------------------------------------------------------------------------------------


async def fail_expired(session: AsyncSession) -> int:
    groups = list(
        await session.scalars(
            select(GroupBuyGroup)
            .where(GroupBuyGroup.status.in_(OPEN), GroupBuyGroup.expires_at < now())
            .order_by(GroupBuyGroup.expires_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for group in groups:
        slots = list(
            await session.scalars(
                select(GroupBuyMember)
                .where(GroupBuyMember.group_id == group.id, GroupBuyMember.status.in_(LIVE))
                .with_for_update()
            )
        )
        group.status = "failed"
        group.closed_at = now()
        for slot in slots:
            slot.status = "failed"
        _publish_failed(session, group, slots, "not full in time")
        log.info("group_buy.failed", group_id=str(group.id), paid=group.paid_count)
    return len(groups)


async def free_unordered_slots(session: AsyncSession, hold_s: int) -> int:
    cutoff = now() - timedelta(seconds=hold_s)
    group_ids = list(
        await session.scalars(
            select(GroupBuyMember.group_id)
            .where(
                GroupBuyMember.status == "reserved",
                GroupBuyMember.order_id.is_(None),
                GroupBuyMember.created_at < cutoff,
            )
            .distinct()
            .limit(BATCH)
        )
    )
    freed = 0
    for group_id in group_ids:
        group = await session.scalar(
            select(GroupBuyGroup)
            .where(GroupBuyGroup.id == group_id)
            .with_for_update(skip_locked=True)
        )
        if group is None:
            continue
        slots = list(
            await session.scalars(
                select(GroupBuyMember)
                .where(
                    GroupBuyMember.group_id == group_id,
                    GroupBuyMember.status == "reserved",
                    GroupBuyMember.order_id.is_(None),
                    GroupBuyMember.created_at < cutoff,
                )
                .with_for_update()
            )
        )
        for slot in slots:
            slot.status = "cancelled"
            freed += 1
            if slot.is_leader and group.status == "pending":
                group.status = "cancelled"
                group.closed_at = now()
    return freed


# -- reading ----------------------------------------------------------------------------------


async def group_out(session: AsyncSession, group: GroupBuyGroup) -> GroupOut:
    return GroupOut(
        id=group.id,
        activity_id=group.activity_id,
        sku_id=group.sku_id,
        price_fen=group.price_fen,
        size=group.size,
        status=group.status,
        paid_count=group.paid_count,
        slots_taken=await _live_count(session, group.id)
        if group.status in OPEN
        else group.paid_count,
        expires_at=group.expires_at,
        closed_at=group.closed_at,
    )


async def staff_group_out(session: AsyncSession, group: GroupBuyGroup) -> StaffGroupOut:
    slots = list(
        await session.scalars(
            select(GroupBuyMember)
            .where(GroupBuyMember.group_id == group.id)
            .order_by(GroupBuyMember.created_at)
        )
    )
    return StaffGroupOut(
        **(await group_out(session, group)).model_dump(),
        leader_member_id=group.leader_member_id,
        slots=[SlotOut.model_validate(s) for s in slots],
        order_ids=[s.order_id for s in slots if s.order_id is not None],
    )


async def membership_out(session: AsyncSession, slot: GroupBuyMember) -> MembershipOut:
    group = await session.get(GroupBuyGroup, slot.group_id)
    assert group is not None
    return MembershipOut(
        activity_ref=slot.id,
        status=slot.status,
        is_leader=slot.is_leader,
        order_id=slot.order_id,
        group=await group_out(session, group),
    )
