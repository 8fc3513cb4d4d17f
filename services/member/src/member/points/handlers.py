"""What member does when orders move (consumer handlers, run through the inbox).

Expected payloads (order service): ``order.completed`` ``{order_id, member_id, paid_fen}``;
``order.refunded`` ``{order_id, member_id, refund_id?, refund_fen?, paid_fen?}``;
``order.paid`` / ``order.cancelled`` ``{order_id, member_id}`` commit / release the points
held for the order, if any.
"""

import uuid
from typing import Any

from shared.events import Event
from shared.inbox import Handler
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from member.levels.service import apply_growth
from member.members.errors import MemberNotFound
from member.points import repository, service
from member.points.errors import PointsHoldNotFound, PointsHoldSettled
from member.settings import MemberSettings

log = get_logger(__name__)


def _ids(event: Event) -> tuple[uuid.UUID, str] | None:
    payload: dict[str, Any] = event.payload
    try:
        return uuid.UUID(str(payload["member_id"])), str(payload["order_id"])
    except (KeyError, ValueError):
        log.warning("member.order_event_ignored", type=event.type, event_id=str(event.event_id))
        return None


def points_handlers(settings: MemberSettings) -> dict[str, Handler]:
    async def order_completed(session: AsyncSession, event: Event) -> None:
        ids = _ids(event)
        if ids is None:
            return
        member_id, order_id = ids
        yuan = max(int(event.payload.get("paid_fen", 0)), 0) // 100
        try:
            _, new = await service.earn(
                session,
                member_id,
                yuan * settings.points_per_yuan,
                reference=order_id,
                reason="order completed",
            )
        except MemberNotFound:
            log.info("member.points_skipped", reason="member_gone", order_id=order_id)
            return
        if new:
            member = await repository.lock_member(session, member_id)
            if member is not None:
                await apply_growth(session, member, yuan * settings.growth_per_yuan)

    async def order_refunded(session: AsyncSession, event: Event) -> None:
        ids = _ids(event)
        if ids is None:
            return
        member_id, order_id = ids
        p = event.payload
        points: int | None = None
        if p.get("refund_fen") is not None and p.get("paid_fen"):
            earned = await repository.entry(session, member_id, service.EARN, order_id)
            if earned is not None:
                points = earned.delta * int(p["refund_fen"]) // int(p["paid_fen"])
        try:
            await service.reverse(
                session,
                member_id,
                earn_reference=order_id,
                reference=str(p.get("refund_id") or order_id),
                points=points,
            )
        except MemberNotFound:
            log.info("member.points_skipped", reason="member_gone", order_id=order_id)

    async def settle(session: AsyncSession, event: Event, commit: bool) -> None:
        ids = _ids(event)
        if ids is None:
            return
        member_id, order_id = ids
        try:
            if commit:
                await service.commit(session, member_id, reference=order_id)
            else:
                await service.release(session, member_id, reference=order_id)
        except (MemberNotFound, PointsHoldNotFound):
            return  # the order used no points
        except PointsHoldSettled:
            log.warning("member.hold_already_settled", order_id=order_id, commit=commit)

    async def order_paid(session: AsyncSession, event: Event) -> None:
        await settle(session, event, True)

    async def order_cancelled(session: AsyncSession, event: Event) -> None:
        await settle(session, event, False)

    return {
        "order.completed": order_completed,
        "order.refunded": order_refunded,
        "order.paid": order_paid,
        "order.cancelled": order_cancelled,
    }
