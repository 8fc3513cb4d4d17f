"""Promotion rules: staff create, change and pause them; the engine reads the running ones
(``to_engine``). What a promotion covers and its kind never change after creation (create
a new one instead); its rules, name, end and status may."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import Promotion
from marketing.pricing import engine
from marketing.promotions import repository
from marketing.promotions.errors import PromotionInvalid, PromotionNotFound
from marketing.promotions.schemas import PromotionCreate, PromotionUpdate


async def create(session: AsyncSession, body: PromotionCreate) -> Promotion:
    now = datetime.now(UTC)
    if body.ends_at <= now:
        raise PromotionInvalid("ends_at is already past.")
    promotion = Promotion(
        id=uuid.uuid4(),
        name=body.name,
        kind=body.rules.kind,
        scope=body.scope,
        scope_ids=[str(i) for i in body.scope_ids],
        rules=body.rules.model_dump(mode="json", exclude={"kind"}),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        status=body.status,
        created_at=now,
        updated_at=now,
    )
    session.add(promotion)
    await session.flush()
    return promotion


async def update(
    session: AsyncSession, promotion_id: uuid.UUID, body: PromotionUpdate
) -> Promotion:
    promotion = await repository.get(session, promotion_id, lock=True)
    if promotion is None:
        raise PromotionNotFound(f"No promotion {promotion_id}.")
    if body.rules is not None:
        if body.rules.kind != promotion.kind:
            raise PromotionInvalid(f"A {promotion.kind} promotion keeps its kind.")
        promotion.rules = body.rules.model_dump(mode="json", exclude={"kind"})
    if body.name is not None:
        promotion.name = body.name
    if body.status is not None:
        promotion.status = body.status
    if body.ends_at is not None:
        if body.ends_at <= promotion.starts_at:
            raise PromotionInvalid("ends_at must be after starts_at.")
        promotion.ends_at = body.ends_at
    promotion.updated_at = datetime.now(UTC)
    await session.flush()
    return promotion


def scope_of(kind: str, ids: list[str]) -> engine.Scope:
    if kind == "products":
        return engine.Scope("products", frozenset(ids))
    if kind == "categories":
        return engine.Scope("categories", frozenset(ids))
    return engine.Scope("all")


def to_engine(promotion: Promotion) -> engine.Promotion:
    scope = scope_of(promotion.scope, promotion.scope_ids)
    rules = promotion.rules
    pid = str(promotion.id)
    if promotion.kind == "limited_time":
        return engine.LimitedTime(pid, promotion.name, scope, int(rules["rate_bp"]))
    if promotion.kind == "member_price":
        rates = {str(k): int(v) for k, v in rules["level_rates"].items()}
        return engine.MemberPrice(pid, promotion.name, scope, rates)
    tiers = tuple(
        engine.Tier(
            int(t["threshold_fen"]), int(t.get("off_fen", 0)), int(t.get("rate_bp", engine.BP))
        )
        for t in rules["tiers"]
    )
    kind: engine.LadderKind = (
        "full_discount" if promotion.kind == "full_discount" else "full_reduction"
    )
    max_off = rules.get("max_off_fen")
    return engine.Ladder(
        pid,
        promotion.name,
        kind,
        scope,
        tiers,
        repeat=bool(rules.get("repeat", False)),
        max_off_fen=int(max_off) if max_off is not None else None,
    )
