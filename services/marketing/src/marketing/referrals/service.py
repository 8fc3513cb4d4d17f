"""Referral (分销): rules.

- A member's share code is their member id; opening a share link binds the opener to the
  sharer. The first binding wins and never changes; nobody refers themself; a binding
  that would close a cycle (A → B → … → A) is refused. Bindings serialise on one advisory
  lock, so two concurrent bindings cannot form a cycle between them.
- ``order.completed``: the referrer of the buyer earns, per line, the line's paid amount
  (its share after discounts, scaled by what is left after refunds) × the rate of the
  line's product, or else of its nearest category with a rate (staff set both); one
  commission per order.
- ``order.refunded`` after that: a reversal (negative entry) of the same share of the
  commission as the refund is of the amount paid; a full refund reverses what is left.
- Staff settle a referrer: every pending entry (commissions minus reversals) in one
  settlement, under row locks, so two settlements never pay one entry twice.
"""

import uuid
from typing import Any

from shared.logging import get_logger
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import (
    CommissionEntry,
    CommissionRate,
    CommissionSettlement,
    ReferralBinding,
)
from marketing.peers import Sku
from marketing.referrals.errors import (
    NothingToSettle,
    ReferralCycle,
    ReferrerCodeInvalid,
    SelfReferral,
)
from marketing.referrals.schemas import BindingOut, MyReferralOut, ReferrerSummary

log = get_logger(__name__)
MAX_CHAIN = 1000


def code_of(member_id: uuid.UUID) -> str:
    return member_id.hex


def parse_code(code: str) -> uuid.UUID:
    try:
        return uuid.UUID(code)
    except ValueError as exc:
        raise ReferrerCodeInvalid("That referral code is not valid.") from exc


async def bind(session: AsyncSession, member_id: uuid.UUID, code: str) -> BindingOut:
    referrer_id = parse_code(code)
    if referrer_id == member_id:
        raise SelfReferral("You cannot refer yourself.")
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("referral_bindings"))))
    existing = await session.get(ReferralBinding, member_id)
    if existing is not None:
        return BindingOut(
            member_id=member_id,
            referrer_id=existing.referrer_id,
            bound_at=existing.bound_at,
            newly_bound=False,
        )
    cursor: uuid.UUID | None = referrer_id
    for _ in range(MAX_CHAIN):
        if cursor is None:
            break
        if cursor == member_id:
            raise ReferralCycle("That referral would form a cycle.")
        cursor = await session.scalar(
            select(ReferralBinding.referrer_id).where(ReferralBinding.member_id == cursor)
        )
    binding = ReferralBinding(member_id=member_id, referrer_id=referrer_id)
    session.add(binding)
    await session.flush()
    await session.refresh(binding)
    return BindingOut(
        member_id=member_id, referrer_id=referrer_id, bound_at=binding.bound_at, newly_bound=True
    )


async def mine(session: AsyncSession, member_id: uuid.UUID) -> MyReferralOut:
    binding = await session.get(ReferralBinding, member_id)
    referred = await session.scalar(
        select(func.count())
        .select_from(ReferralBinding)
        .where(ReferralBinding.referrer_id == member_id)
    )
    summary = await summaries(session, referrer_id=member_id)
    return MyReferralOut(
        referrer_code=code_of(member_id),
        referred_by=binding.referrer_id if binding else None,
        referred_members=int(referred or 0),
        pending_fen=summary[0].pending_fen if summary else 0,
        settled_fen=summary[0].settled_fen if summary else 0,
    )


def rate_for(sku: Sku, rates: dict[tuple[str, uuid.UUID], int]) -> int:
    product = rates.get(("product", sku.product_id))
    if product is not None:
        return product
    for category in reversed(sku.category_path):  # nearest first
        found = rates.get(("category", category))
        if found is not None:
            return found
    return 0


def commission_of(
    items: list[dict[str, Any]],
    skus: dict[uuid.UUID, Sku],
    rates: dict[tuple[str, uuid.UUID], int],
    scale: tuple[int, int],
) -> tuple[int, int]:
    """(base, commission) of an order's lines; ``scale`` = (paid after refunds, total)."""
    kept, total = scale
    base = commission = 0
    for item in items:
        sku = skus.get(uuid.UUID(item["sku_id"]))
        if sku is None:
            continue
        paid = int(item.get("paid_fen", int(item["price_fen"]) * int(item["quantity"])))
        line_base = paid * kept // total if total > 0 else 0
        base += line_base
        commission += line_base * rate_for(sku, rates) // 10_000
    return base, commission


async def on_completed(
    session: AsyncSession, payload: dict[str, Any], skus: dict[uuid.UUID, Sku]
) -> CommissionEntry | None:
    member_id = uuid.UUID(payload["member_id"])
    binding = await session.get(ReferralBinding, member_id)
    if binding is None:
        return None
    order_id = uuid.UUID(payload["order_id"])
    rates = {
        (r.scope, r.target_id): r.rate_bp for r in await session.scalars(select(CommissionRate))
    }
    total = int(payload["total_fen"])
    kept = int(payload.get("paid_fen", total))
    base, amount = commission_of(payload["items"], skus, rates, (kept, total))
    if amount <= 0:
        return None
    entry_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(CommissionEntry)
        .values(
            id=entry_id,
            referrer_id=binding.referrer_id,
            member_id=member_id,
            order_id=order_id,
            kind="commission",
            base_fen=kept,
            amount_fen=amount,
            status="pending",
        )
        .on_conflict_do_nothing(
            index_elements=[CommissionEntry.order_id],
            index_where=CommissionEntry.kind == "commission",
        )
        .returning(CommissionEntry.id)
    )
    if inserted is None:
        return None
    log.info("referral.commission", order_id=str(order_id), amount_fen=amount, base_fen=base)
    return await session.get(CommissionEntry, entry_id)


async def on_refunded(session: AsyncSession, payload: dict[str, Any]) -> None:
    order_id = uuid.UUID(payload["order_id"])
    commission = await session.scalar(
        select(CommissionEntry)
        .where(CommissionEntry.order_id == order_id, CommissionEntry.kind == "commission")
        .with_for_update()
    )
    if commission is None:
        return  # refunded before completion: the commission is computed on what is left
    reversed_so_far = await session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount_fen), 0)).where(
            CommissionEntry.order_id == order_id, CommissionEntry.kind == "reversal"
        )
    )
    left = commission.amount_fen + int(reversed_so_far or 0)
    refund = int(payload.get("refund_fen", payload.get("amount_fen", 0)))
    if payload.get("full"):
        amount = left
    else:
        amount = min(left, commission.amount_fen * refund // max(commission.base_fen, 1))
    if amount <= 0:
        return
    refund_id = uuid.UUID(payload["refund_id"]) if payload.get("refund_id") else uuid.uuid4()
    await session.execute(
        insert(CommissionEntry)
        .values(
            id=uuid.uuid4(),
            referrer_id=commission.referrer_id,
            member_id=commission.member_id,
            order_id=order_id,
            kind="reversal",
            refund_id=refund_id,
            base_fen=refund,
            amount_fen=-amount,
            status="pending",
        )
        .on_conflict_do_nothing(
            index_elements=[CommissionEntry.refund_id],
            index_where=CommissionEntry.kind == "reversal",
        )
    )
    log.info("referral.commission_reversed", order_id=str(order_id), amount_fen=amount)


async def summaries(
    session: AsyncSession, *, referrer_id: uuid.UUID | None = None
) -> list[ReferrerSummary]:
    pending = func.coalesce(
        func.sum(case((CommissionEntry.status == "pending", CommissionEntry.amount_fen), else_=0)),
        0,
    )
    settled = func.coalesce(
        func.sum(case((CommissionEntry.status == "settled", CommissionEntry.amount_fen), else_=0)),
        0,
    )
    query = select(
        CommissionEntry.referrer_id, pending, settled, func.count(CommissionEntry.id)
    ).group_by(CommissionEntry.referrer_id)
    if referrer_id is not None:
        query = query.where(CommissionEntry.referrer_id == referrer_id)
    rows = await session.execute(query.order_by(CommissionEntry.referrer_id))
    return [
        ReferrerSummary(
            referrer_id=r[0], pending_fen=int(r[1]), settled_fen=int(r[2]), entries=r[3]
        )
        for r in rows
    ]


async def settle(
    session: AsyncSession, referrer_id: uuid.UUID, actor: str, note: str | None
) -> CommissionSettlement:
    entries = list(
        await session.scalars(
            select(CommissionEntry)
            .where(CommissionEntry.referrer_id == referrer_id, CommissionEntry.status == "pending")
            .order_by(CommissionEntry.created_at)
            .with_for_update()
        )
    )
    amount = sum(e.amount_fen for e in entries)
    if not entries or amount <= 0:
        raise NothingToSettle("This referrer has nothing to settle.")
    settlement = CommissionSettlement(
        id=uuid.uuid4(),
        referrer_id=referrer_id,
        amount_fen=amount,
        entries=len(entries),
        settled_by=actor,
        note=note,
    )
    session.add(settlement)
    for entry in entries:
        entry.status = "settled"
        entry.settlement_id = settlement.id
    await session.flush()
    await session.refresh(settlement)
    return settlement
