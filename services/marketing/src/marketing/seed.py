"""Demo marketing data for ``make run`` (``python -m marketing.seed``): ``main()`` runs one
seed function per feature; each leaves what exists as it is (fixed ids, ``ON CONFLICT DO
NOTHING``)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from shared.db import create_engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import CouponTemplate, FlashSale, Promotion
from marketing.settings import MarketingSettings

_NAMESPACE = uuid.UUID("6f1c1d8e-4a52-4f0e-9d59-2b1d3c0e7a10")
WELCOME_COUPON_ID = uuid.uuid5(_NAMESPACE, "coupon-template:welcome")
STORE_LADDER_ID = uuid.uuid5(_NAMESPACE, "promotion:store-ladder")


async def seed_coupons_and_promotions(session: AsyncSession) -> None:
    """One claimable coupon (满99减10, 30 days from claiming, one each) and one running
    promotion (全场满199减20, 满399减50) for a year."""
    now = datetime.now(UTC)
    await session.execute(
        insert(CouponTemplate)
        .values(
            id=WELCOME_COUPON_ID,
            name="新人券 满99减10",
            description="新会员专享，满 99 元减 10 元，领取后 30 天内有效",
            kind="threshold",
            off_fen=1000,
            rate_bp=10_000,
            min_spend_fen=9900,
            scope="all",
            scope_ids=[],
            validity="relative",
            valid_days=30,
            total_quantity=10_000,
            issued_count=0,
            used_count=0,
            per_member_limit=1,
            claimable=True,
            status="active",
        )
        .on_conflict_do_nothing()
    )
    await session.execute(
        insert(Promotion)
        .values(
            id=STORE_LADDER_ID,
            name="全场满减",
            kind="full_reduction",
            scope="all",
            scope_ids=[],
            rules={
                "tiers": [
                    {"threshold_fen": 19_900, "off_fen": 2000},
                    {"threshold_fen": 39_900, "off_fen": 5000},
                ],
                "repeat": False,
                "max_off_fen": None,
            },
            starts_at=now,
            ends_at=now + timedelta(days=365),
            status="active",
        )
        .on_conflict_do_nothing()
    )


# --- flash sales (issue 9) ---
DEMO_FLASH_SALE_ID = uuid.uuid5(_NAMESPACE, "flash-sale:demo")


async def seed_flash_sale(session: AsyncSession, database_url: str) -> None:
    """One running flash sale: 100 units of the best-stocked SKU on sale at half price, one
    per person, 15 minutes to pay, for a week. Marketing's consumer holds the units at
    catalog and loads the sale into Redis once catalog answers.

    Development data only: the SKU is looked up in catalog's database, which the seed can
    reach under ``make run`` (the services never read each other's databases)."""
    from sqlalchemy import text

    if await session.get(FlashSale, DEMO_FLASH_SALE_ID) is not None:
        return
    base, _, name = database_url.rpartition("/")
    catalog_url = f"{base}/{name[: -len('marketing')]}catalog"
    engine = create_engine(catalog_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT s.id, s.price_fen FROM skus s JOIN products p"
                        " ON p.id = s.product_id WHERE p.status = 'on_sale' AND s.active"
                        " AND s.available >= 100 ORDER BY s.available DESC, s.id LIMIT 1"
                    )
                )
            ).first()
    finally:
        await engine.dispose()
    if row is None:
        return  # no catalog seeded: no demo sale
    now = datetime.now(UTC)
    await session.execute(
        insert(FlashSale)
        .values(
            id=DEMO_FLASH_SALE_ID,
            name="限时秒杀 半价",
            sku_id=row[0],
            price_fen=max(int(row[1]) // 2, 1),
            total_units=100,
            per_member_limit=1,
            starts_at=now,
            ends_at=now + timedelta(days=7),
            payment_window_s=900,
            status="scheduled",
            created_by="seed",
        )
        .on_conflict_do_nothing()
    )


async def main() -> None:
    engine = create_engine(MarketingSettings().database_url, pool_size=1)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await seed_coupons_and_promotions(session)
        async with AsyncSession(engine) as session, session.begin():
            await seed_flash_sale(session, MarketingSettings().database_url)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
