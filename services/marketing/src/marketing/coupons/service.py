"""Coupon rules.

- **Claim** (``claim``): one transaction takes one from the member's allowance (a
  conditional upsert on ``coupon_claims``: concurrent claims of one member serialise on
  that row) and one from the template's quantity (a conditional ``UPDATE``: claims of one
  template serialise on its row), then writes the coupon. Either refusal rolls the whole
  claim back, so neither the per-member limit nor ``total_quantity`` is ever exceeded.
  Claims count for ever: a used, expired or returned coupon does not give a claim back.
- **Grant** (staff): like a claim, for any member, of claimable or staff-only templates;
  grants count against the quantity, not against the per-member limit.
- **Lock** (order creation, key = the order id): ``available`` and within its validity →
  ``locked``; the same order again is a no-op; anything else is ``coupon_unavailable``.
- **Use** (``order.paid``): ``locked`` → ``used`` and ``marketing.coupon_used``.
- **Return**: a lock comes back on ``order.cancelled`` and when creation is compensated; a
  used coupon comes back on ``order.refunded`` when the refund is full (every item), never
  on a partial refund. A returned coupon is ``available`` again if still within its
  validity, otherwise ``expired``; either way ``marketing.coupon_returned``. A lock that
  ``order.created`` never confirms (its creation was abandoned and compensated before the
  lock committed) is given back after ``coupon_unconfirmed_lock_s``.
- **Expire**: the sweeper marks ``available`` coupons past ``valid_until`` ``expired``
  (lists show them expired before it runs). Staff may revoke an ``available`` coupon.
"""

import uuid
from datetime import UTC, datetime, timedelta

from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.coupons import repository
from marketing.coupons.errors import (
    CouponLimitReached,
    CouponNotClaimable,
    CouponNotFound,
    CouponSoldOut,
    CouponTemplateInvalid,
    CouponTemplateNotFound,
    CouponUnavailable,
)
from marketing.coupons.schemas import (
    ClaimableTemplateOut,
    CouponOut,
    LockIn,
    StaffCouponOut,
    TemplateCreate,
    TemplateOut,
    TemplateTerms,
    TemplateUpdate,
)
from marketing.models import Coupon, CouponTemplate

log = get_logger(__name__)


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- templates (staff) ---


async def create_template(session: AsyncSession, body: TemplateCreate) -> CouponTemplate:
    now = now_utc()
    if body.validity == "fixed" and body.valid_until is not None and body.valid_until <= now:
        raise CouponTemplateInvalid("valid_until is already past.")
    template = CouponTemplate(
        id=uuid.uuid4(),
        **body.model_dump(exclude={"scope_ids"}),
        scope_ids=[str(i) for i in body.scope_ids],
        issued_count=0,
        used_count=0,
    )
    if template.validity == "fixed" and template.valid_from is None:
        template.valid_from = now
    session.add(template)
    await session.flush()
    return template


async def update_template(
    session: AsyncSession, template_id: uuid.UUID, body: TemplateUpdate
) -> CouponTemplate:
    template = await repository.template(session, template_id, lock=True)
    if template is None:
        raise CouponTemplateNotFound(f"No coupon template {template_id}.")
    changes = body.model_dump(exclude_unset=True)
    if template.status == "ended" and changes.get("status", "ended") != "ended":
        raise CouponTemplateInvalid("An ended template stays ended.")
    quantity = changes.get("total_quantity")
    if quantity is not None and quantity < template.issued_count:
        raise CouponTemplateInvalid(
            f"total_quantity cannot go below the {template.issued_count} already issued."
        )
    for name, value in changes.items():
        if name in ("name", "status", "per_member_limit", "claimable") and value is None:
            continue
        setattr(template, name, value)
    template.updated_at = now_utc()
    await session.flush()
    return template


def template_out(template: CouponTemplate) -> TemplateOut:
    return TemplateOut.model_validate(template)


def claimable_out(template: CouponTemplate, claimed: int | None = None) -> ClaimableTemplateOut:
    remaining = (
        None
        if template.total_quantity is None
        else max(template.total_quantity - template.issued_count, 0)
    )
    terms = TemplateTerms.model_validate(template).model_dump()
    return ClaimableTemplateOut(**terms, remaining=remaining, claimed=claimed)


# --- claiming and granting ---


async def claim(session: AsyncSession, template_id: uuid.UUID, member_id: uuid.UUID) -> Coupon:
    now = now_utc()
    template = await repository.template(session, template_id)
    if template is None:
        raise CouponTemplateNotFound(f"No coupon template {template_id}.")
    if not _claimable(template, now):
        raise CouponNotClaimable("This coupon cannot be claimed now.")
    if not await repository.count_member_claim(
        session, template_id, member_id, template.per_member_limit
    ):
        raise CouponLimitReached(
            f"You have claimed this coupon {template.per_member_limit} time(s) already."
        )
    return await _issue(session, template, member_id, "claimed", now)


async def grant(
    session: AsyncSession, template_id: uuid.UUID, member_ids: list[uuid.UUID]
) -> list[Coupon]:
    """Staff give coupons of a template to members (one each)."""
    now = now_utc()
    template = await repository.template(session, template_id)
    if template is None:
        raise CouponTemplateNotFound(f"No coupon template {template_id}.")
    if template.status == "ended" or (
        template.validity == "fixed" and template.valid_until and template.valid_until <= now
    ):
        raise CouponNotClaimable("This template has ended.")
    return [await _issue(session, template, m, "granted", now) for m in member_ids]


def _claimable(template: CouponTemplate, now: datetime) -> bool:
    return (
        template.status == "active"
        and template.claimable
        and (template.claim_starts_at is None or template.claim_starts_at <= now)
        and (template.claim_ends_at is None or template.claim_ends_at > now)
        and (template.validity == "relative" or (template.valid_until or now) > now)
    )


async def _issue(
    session: AsyncSession,
    template: CouponTemplate,
    member_id: uuid.UUID,
    source: str,
    now: datetime,
) -> Coupon:
    if not await repository.count_issued(session, template.id):
        raise CouponSoldOut("This coupon has all been given out.")
    if template.validity == "relative":
        valid_from, valid_until = now, now + timedelta(days=template.valid_days or 1)
    else:
        valid_from = template.valid_from or now
        valid_until = template.valid_until or now
    coupon = Coupon(
        id=uuid.uuid4(),
        template_id=template.id,
        member_id=member_id,
        status="available",
        source=source,
        valid_from=valid_from,
        valid_until=valid_until,
        returned_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(coupon)
    await session.flush()
    add_event(
        session,
        "marketing.coupon_claimed",
        str(coupon.id),
        {
            "coupon_id": str(coupon.id),
            "template_id": str(template.id),
            "member_id": str(member_id),
            "source": source,
            "valid_until": valid_until.isoformat(),
        },
    )
    return coupon


def coupon_out(coupon: Coupon, template: CouponTemplate, now: datetime | None = None) -> CouponOut:
    return CouponOut(**_coupon_fields(coupon, template, now or now_utc()))


def staff_coupon_out(coupon: Coupon, template: CouponTemplate) -> StaffCouponOut:
    return StaffCouponOut(
        **_coupon_fields(coupon, template, now_utc()),
        member_id=coupon.member_id,
        source=coupon.source,
        discount_fen=coupon.discount_fen,
        locked_at=coupon.locked_at,
        returned_count=coupon.returned_count,
    )


def _coupon_fields(coupon: Coupon, template: CouponTemplate, now: datetime) -> dict[str, object]:
    status = coupon.status
    if status == "available" and coupon.valid_until <= now:
        status = "expired"
    return {
        "id": coupon.id,
        "template_id": template.id,
        "name": template.name,
        "kind": template.kind,
        "off_fen": template.off_fen,
        "rate_bp": template.rate_bp,
        "max_off_fen": template.max_off_fen,
        "min_spend_fen": template.min_spend_fen,
        "scope": template.scope,
        "scope_ids": template.scope_ids,
        "status": status,
        "valid_from": coupon.valid_from,
        "valid_until": coupon.valid_until,
        "order_id": coupon.order_id,
        "used_at": coupon.used_at,
        "claimed_at": coupon.created_at,
    }


# --- orders: lock, release, use, return ---


async def lock(session: AsyncSession, coupon_id: uuid.UUID, body: LockIn) -> Coupon:
    now = now_utc()
    coupon = await repository.coupon(session, coupon_id, lock=True)
    if coupon is None or coupon.member_id != body.member_id:
        raise CouponNotFound(f"No coupon {coupon_id} for this member.")
    if coupon.status == "locked" and coupon.order_id == body.order_id:
        return coupon  # the same order again
    if coupon.status != "available" or not (coupon.valid_from <= now < coupon.valid_until):
        raise CouponUnavailable("This coupon is in use by another order, used or expired.")
    coupon.status, coupon.order_id, coupon.lock_confirmed = "locked", body.order_id, False
    coupon.discount_fen, coupon.locked_at, coupon.updated_at = body.discount_fen, now, now
    await session.flush()
    return coupon


async def confirm(
    session: AsyncSession, coupon_id: uuid.UUID, order_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    """``order.created``: the order holding the lock exists. If the lock was given back as
    unconfirmed meanwhile (the event came very late), it is taken again when still free."""
    coupon = await repository.coupon(session, coupon_id, lock=True)
    if coupon is None:
        return
    if coupon.order_id == order_id:
        coupon.lock_confirmed = True
        return
    now = now_utc()
    if coupon.status == "available" and coupon.member_id == member_id:
        coupon.status, coupon.order_id, coupon.lock_confirmed = "locked", order_id, True
        coupon.locked_at, coupon.updated_at = now, now
        log.warning("marketing.coupon_relocked", coupon_id=str(coupon_id), order_id=str(order_id))
        return
    log.error(
        "marketing.coupon_lost_by_order",
        coupon_id=str(coupon_id),
        order_id=str(order_id),
        status=coupon.status,
    )


async def release_unconfirmed(session: AsyncSession, older_than_s: int, batch: int = 100) -> int:
    """Locks whose order never appeared (``order.created``) are given back: a lock that
    committed after its creation timed out and was compensated."""
    cutoff = now_utc() - timedelta(seconds=older_than_s)
    stale = await repository.unconfirmed_locks(session, cutoff, batch)
    for coupon in stale:
        _give_back(session, coupon, "order_never_created")
    return len(stale)


async def release(session: AsyncSession, order_id: uuid.UUID, reason: str) -> Coupon | None:
    """Give back the coupon an order has locked (not a used one). None: nothing locked."""
    coupon = await repository.held_by_order(session, order_id)
    if coupon is None or coupon.status != "locked":
        return None
    _give_back(session, coupon, reason)
    return coupon


async def use(session: AsyncSession, order_id: uuid.UUID) -> Coupon | None:
    coupon = await repository.held_by_order(session, order_id)
    if coupon is None or coupon.status != "locked":
        return None
    now = now_utc()
    coupon.status, coupon.used_at, coupon.updated_at = "used", now, now
    await repository.count_used(session, coupon.template_id, 1)
    add_event(
        session,
        "marketing.coupon_used",
        str(coupon.id),
        {
            "coupon_id": str(coupon.id),
            "template_id": str(coupon.template_id),
            "member_id": str(coupon.member_id),
            "order_id": str(order_id),
            "discount_fen": coupon.discount_fen or 0,
            "used_at": now.isoformat(),
        },
    )
    return coupon


async def refunded(session: AsyncSession, order_id: uuid.UUID, *, full: bool) -> Coupon | None:
    """A full refund gives a used coupon back; a partial one never does."""
    coupon = await repository.held_by_order(session, order_id)
    if coupon is None or not full:
        return None
    if coupon.status == "used":
        await repository.count_used(session, coupon.template_id, -1)
    _give_back(session, coupon, "order_refunded")
    return coupon


def _give_back(session: AsyncSession, coupon: Coupon, reason: str) -> None:
    now = now_utc()
    order_id = coupon.order_id
    coupon.status = "available" if coupon.valid_until > now else "expired"
    coupon.order_id, coupon.discount_fen, coupon.locked_at, coupon.used_at = None, None, None, None
    coupon.lock_confirmed = False
    coupon.returned_count += 1
    coupon.updated_at = now
    add_event(
        session,
        "marketing.coupon_returned",
        str(coupon.id),
        {
            "coupon_id": str(coupon.id),
            "template_id": str(coupon.template_id),
            "member_id": str(coupon.member_id),
            "order_id": str(order_id),
            "reason": reason,
            "status": coupon.status,
        },
    )
    log.info("marketing.coupon_returned", coupon_id=str(coupon.id), reason=reason)


async def revoke(session: AsyncSession, coupon_id: uuid.UUID) -> Coupon:
    coupon = await repository.coupon(session, coupon_id, lock=True)
    if coupon is None:
        raise CouponNotFound(f"No coupon {coupon_id}.")
    if coupon.status != "available":
        raise CouponUnavailable(f"Only an available coupon can be revoked; it is {coupon.status}.")
    coupon.status, coupon.updated_at = "revoked", now_utc()
    await session.flush()
    return coupon


async def expire_due(session: AsyncSession, batch: int = 500) -> int:
    expired = await repository.expire_due(session, now_utc(), batch)
    if expired:
        log.info("marketing.coupons_expired", count=len(expired))
    return len(expired)
