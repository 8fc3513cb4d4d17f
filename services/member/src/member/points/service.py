"""The points ledger. Every change is one row (delta, kind, reason, reference); the member's
``points_balance`` is always the sum of their deltas and never negative.

- ``earn``: +n, once per reference (an order never earns twice).
- ``hold``: -n from the balance, set aside for an order; then ``commit`` (spent, a 0 row)
  or ``release`` (+n back). Each happens once per reference.
- ``reverse``: takes back what an earning gave (on refund), at most what it gave and at most
  what the balance holds.
- ``sign_in``: once per shop-calendar day.

Every operation locks the member row first, so concurrent operations on one member
serialise and the outbox order follows commit order.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from member.members.errors import MemberNotFound
from member.models import Member, PointsEntry, PointsHold
from member.points import repository
from member.points.errors import (
    AlreadySignedIn,
    InsufficientPoints,
    PointsConflict,
    PointsHoldNotFound,
    PointsHoldSettled,
)

EARN, HOLD, COMMIT, RELEASE, REVERSE, SIGN_IN, ADJUST = (
    "earn",
    "hold",
    "commit",
    "release",
    "reverse",
    "sign_in",
    "adjust",
)


@dataclass(frozen=True)
class Balance:
    balance: int
    held: int


async def _lock(session: AsyncSession, member_id: uuid.UUID) -> Member:
    member = await repository.lock_member(session, member_id)
    if member is None:
        raise MemberNotFound("No such member.")
    return member


async def _record(
    session: AsyncSession,
    member: Member,
    *,
    delta: int,
    kind: str,
    reference: str,
    reason: str,
    source_reference: str | None = None,
) -> PointsEntry:
    balance = member.points_balance + delta
    if balance < 0:
        raise InsufficientPoints(f"Only {member.points_balance} points are available.")
    member.points_balance = balance
    row = PointsEntry(
        member_id=member.id,
        delta=delta,
        kind=kind,
        reason=reason[:200],
        reference=reference,
        source_reference=source_reference,
        balance_after=balance,
    )
    session.add(row)
    await session.flush()
    add_event(
        session,
        "member.points_changed",
        str(member.id),
        {
            "member_id": str(member.id),
            "delta": delta,
            "balance": balance,
            "held": member.points_held,
            "kind": kind,
            "reference": reference,
        },
    )
    return row


async def earn(
    session: AsyncSession, member_id: uuid.UUID, points: int, *, reference: str, reason: str
) -> tuple[PointsEntry, bool]:
    """Returns the entry and whether it is new (False: this reference already earned)."""
    member = await _lock(session, member_id)
    existing = await repository.entry(session, member_id, EARN, reference)
    if existing is not None:
        return existing, False
    return await _record(
        session, member, delta=max(points, 0), kind=EARN, reference=reference, reason=reason
    ), True


async def hold(
    session: AsyncSession, member_id: uuid.UUID, points: int, *, reference: str
) -> PointsHold:
    member = await _lock(session, member_id)
    existing = await repository.hold(session, member_id, reference)
    if existing is not None:
        if existing.points != points:
            raise PointsConflict("This reference already holds a different amount.")
        return existing
    if points > member.points_balance:
        raise InsufficientPoints(f"Only {member.points_balance} points are available.")
    member.points_held += points
    await _record(
        session, member, delta=-points, kind=HOLD, reference=reference, reason="held for an order"
    )
    held = PointsHold(member_id=member_id, reference=reference, points=points, status="held")
    session.add(held)
    await session.flush()
    return held


async def _settle(
    session: AsyncSession, member_id: uuid.UUID, reference: str, to: str
) -> PointsHold:
    member = await _lock(session, member_id)
    held = await repository.hold(session, member_id, reference)
    if held is None:
        raise PointsHoldNotFound("No points are held for this reference.")
    if held.status == to:
        return held  # idempotent
    if held.status != "held":
        raise PointsHoldSettled(f"The hold is already {held.status}.")
    held.status = to
    held.settled_at = datetime.now(UTC)
    member.points_held -= held.points
    if to == "committed":
        await _record(
            session, member, delta=0, kind=COMMIT, reference=reference, reason="spent on an order"
        )
    else:
        await _record(
            session,
            member,
            delta=held.points,
            kind=RELEASE,
            reference=reference,
            reason="released by an order",
        )
    return held


async def commit(session: AsyncSession, member_id: uuid.UUID, *, reference: str) -> PointsHold:
    return await _settle(session, member_id, reference, "committed")


async def release(session: AsyncSession, member_id: uuid.UUID, *, reference: str) -> PointsHold:
    return await _settle(session, member_id, reference, "released")


async def reverse(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    earn_reference: str,
    reference: str,
    points: int | None = None,
    reason: str = "refund",
) -> PointsEntry | None:
    """Take back (part of) an earning, once per ``reference``. None if nothing was earned."""
    member = await _lock(session, member_id)
    existing = await repository.entry(session, member_id, REVERSE, reference)
    if existing is not None:
        return existing
    earned = await repository.entry(session, member_id, EARN, earn_reference)
    if earned is None:
        return None
    left = earned.delta - await repository.reversed_total(session, member_id, earn_reference)
    wanted = left if points is None else min(max(points, 0), left)
    taken = min(wanted, member.points_balance)  # what was already spent cannot be taken back
    note = reason if taken == wanted else f"{reason} (short {wanted - taken}: already spent)"
    return await _record(
        session,
        member,
        delta=-taken,
        kind=REVERSE,
        reference=reference,
        reason=note,
        source_reference=earn_reference,
    )


async def sign_in(
    session: AsyncSession, member_id: uuid.UUID, day: str, points: int
) -> PointsEntry:
    member = await _lock(session, member_id)
    if await repository.entry(session, member_id, SIGN_IN, day) is not None:
        raise AlreadySignedIn("Already signed in today.")
    return await _record(
        session, member, delta=points, kind=SIGN_IN, reference=day, reason="daily sign-in"
    )


async def adjust(
    session: AsyncSession, member_id: uuid.UUID, delta: int, *, reference: str, reason: str
) -> PointsEntry:
    member = await _lock(session, member_id)
    existing = await repository.entry(session, member_id, ADJUST, reference)
    if existing is not None:
        if existing.delta != delta:
            raise PointsConflict("This reference already adjusted a different amount.")
        return existing
    return await _record(
        session, member, delta=delta, kind=ADJUST, reference=reference, reason=reason
    )
