"""Coupons: members' (``/api/v1/marketing``), staff's (``/admin/v1/marketing``) and the
internal locks order takes (``/internal/v1/marketing``)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from shared.db import SessionDep
from shared.identity import MEMBER_ID_HEADER, CurrentMemberId, require_roles
from shared.pagination import Page, PageParamsDep

from marketing.coupons import repository, service
from marketing.coupons.errors import CouponTemplateNotFound
from marketing.coupons.schemas import (
    ClaimableTemplateOut,
    CouponOut,
    CouponStatus,
    GrantIn,
    GrantOut,
    LockIn,
    LockOut,
    ReleaseOut,
    StaffCouponOut,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)

router = APIRouter(prefix="/api/v1/marketing", tags=["coupons"])
admin = APIRouter(
    prefix="/admin/v1/marketing",
    tags=["coupons (staff)"],
    dependencies=[require_roles("operator")],
)
internal = APIRouter(prefix="/internal/v1/marketing", tags=["coupons (internal)"])


@router.get("/coupons")
async def claimable(
    session: SessionDep,
    params: PageParamsDep,
    member_id: Annotated[uuid.UUID | None, Header(alias=MEMBER_ID_HEADER)] = None,
) -> Page[ClaimableTemplateOut]:
    """Templates a member may claim now (public). With a member token, ``claimed`` says how
    many of each the member has claimed."""
    rows, total = await repository.claimable_templates(
        session, service.now_utc(), params.offset, params.page_size
    )
    claimed = (
        await repository.claimed_counts(session, member_id, [t.id for t in rows])
        if member_id is not None
        else None
    )
    return Page.of(
        [service.claimable_out(t, None if claimed is None else claimed.get(t.id, 0)) for t in rows],
        total,
        params,
    )


@router.post("/coupons/{template_id}/claim", status_code=status.HTTP_201_CREATED)
async def claim(
    template_id: uuid.UUID, member_id: CurrentMemberId, session: SessionDep
) -> CouponOut:
    coupon = await service.claim(session, template_id, member_id)
    template = await repository.template(session, template_id)
    assert template is not None
    return service.coupon_out(coupon, template)


@router.get("/my-coupons")
async def my_coupons(
    member_id: CurrentMemberId,
    session: SessionDep,
    params: PageParamsDep,
    status: Annotated[CouponStatus | None, Query()] = None,
) -> Page[CouponOut]:
    now = service.now_utc()
    rows, total = await repository.coupons_page(
        session,
        now,
        member_id=member_id,
        template_id=None,
        status=status,
        offset=params.offset,
        limit=params.page_size,
    )
    return Page.of([service.coupon_out(c, t, now) for c, t in rows], total, params)


# --- staff ---


@admin.post("/coupon-templates", status_code=status.HTTP_201_CREATED)
async def create_template(body: TemplateCreate, session: SessionDep) -> TemplateOut:
    return service.template_out(await service.create_template(session, body))


@admin.get("/coupon-templates")
async def list_templates(
    session: SessionDep,
    params: PageParamsDep,
    status: Annotated[str | None, Query(pattern="^(active|paused|ended)$")] = None,
) -> Page[TemplateOut]:
    rows, total = await repository.templates(session, status, params.offset, params.page_size)
    return Page.of([service.template_out(t) for t in rows], total, params)


@admin.get("/coupon-templates/{template_id}")
async def get_template(template_id: uuid.UUID, session: SessionDep) -> TemplateOut:
    template = await repository.template(session, template_id)
    if template is None:
        raise CouponTemplateNotFound(f"No coupon template {template_id}.")
    return service.template_out(template)


@admin.patch("/coupon-templates/{template_id}")
async def update_template(
    template_id: uuid.UUID, body: TemplateUpdate, session: SessionDep
) -> TemplateOut:
    return service.template_out(await service.update_template(session, template_id, body))


@admin.post("/coupon-templates/{template_id}/grants", status_code=status.HTTP_201_CREATED)
async def grant(template_id: uuid.UUID, body: GrantIn, session: SessionDep) -> GrantOut:
    coupons = await service.grant(session, template_id, body.member_ids)
    template = await repository.template(session, template_id)
    assert template is not None
    return GrantOut(coupons=[service.staff_coupon_out(c, template) for c in coupons])


@admin.get("/coupons")
async def list_coupons(
    session: SessionDep,
    params: PageParamsDep,
    member_id: uuid.UUID | None = None,
    template_id: uuid.UUID | None = None,
    status: Annotated[CouponStatus | None, Query()] = None,
) -> Page[StaffCouponOut]:
    rows, total = await repository.coupons_page(
        session,
        service.now_utc(),
        member_id=member_id,
        template_id=template_id,
        status=status,
        offset=params.offset,
        limit=params.page_size,
    )
    return Page.of([service.staff_coupon_out(c, t) for c, t in rows], total, params)


@admin.post("/coupons/{coupon_id}/revoke")
async def revoke(coupon_id: uuid.UUID, session: SessionDep) -> StaffCouponOut:
    coupon = await service.revoke(session, coupon_id)
    template = await repository.template(session, coupon.template_id)
    assert template is not None
    return service.staff_coupon_out(coupon, template)


# --- internal (order) ---


@internal.post("/coupons/{coupon_id}/lock")
async def lock(coupon_id: uuid.UUID, body: LockIn, session: SessionDep) -> LockOut:
    """Lock a coupon for an order (idempotent for the same order)."""
    coupon = await service.lock(session, coupon_id, body)
    return LockOut(coupon_id=coupon.id, order_id=body.order_id, status=coupon.status)


@internal.post("/coupon-locks/{order_id}/release")
async def release(order_id: uuid.UUID, session: SessionDep) -> ReleaseOut:
    """Give back what an order locked; nothing locked (or released before) is fine too."""
    coupon = await service.release(session, order_id, "order_creation_failed")
    return ReleaseOut(
        order_id=order_id,
        coupon_id=coupon.id if coupon else None,
        status=coupon.status if coupon else "none",
    )
