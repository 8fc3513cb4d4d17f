"""A cart per member. Lines keep what was added; prices and stock are read fresh from
catalog on every read, and a line that cannot be ordered as it is says why (``stale``)
instead of disappearing."""

import uuid
from datetime import UTC, datetime

from shared.errors import Conflict, NotFound
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from order.carts.schemas import CartLineIn, CartLineOut, CartOut
from order.deps import Services
from order.models import CartLine
from order.orders.quotes import SkuUnavailable


class CartFull(Conflict):
    code = "cart_full"


class CartLineNotFound(NotFound):
    code = "cart_line_not_found"


async def read(services: Services, session: AsyncSession, member_id: uuid.UUID) -> CartOut:
    lines = list(
        await session.scalars(
            select(CartLine).where(CartLine.member_id == member_id).order_by(CartLine.added_at)
        )
    )
    skus = await services.catalog.skus([line.sku_id for line in lines])
    out: list[CartLineOut] = []
    for line in lines:
        sku = skus.get(line.sku_id)
        stale = None
        if sku is None:
            stale = "gone"
        elif sku.status != "on_sale":
            stale = "off_shelf"
        elif sku.available < line.quantity:
            stale = "insufficient_stock"
        out.append(
            CartLineOut(
                sku_id=line.sku_id,
                product_id=sku.product_id if sku else None,
                product_name=sku.product_name if sku else None,
                specs=sku.specs if sku else {},
                image_url=sku.image_url if sku else None,
                quantity=line.quantity,
                selected=line.selected,
                price_fen=sku.price_fen if sku else None,
                price_fen_when_added=line.price_fen_when_added,
                price_changed=sku is not None and sku.price_fen != line.price_fen_when_added,
                available=sku.available if sku else 0,
                stale=stale,
            )
        )
    selected = [line for line in out if line.selected]
    return CartOut(
        items=out,
        selected_goods_fen=sum((line.price_fen or 0) * line.quantity for line in selected),
        orderable=bool(selected) and all(line.stale is None for line in selected),
    )


async def put(
    services: Services,
    session: AsyncSession,
    member_id: uuid.UUID,
    sku_id: uuid.UUID,
    body: CartLineIn,
) -> None:
    sku = (await services.catalog.skus([sku_id])).get(sku_id)
    if sku is None or sku.status != "on_sale":
        raise SkuUnavailable("This item cannot be added.", details=[{"sku_id": str(sku_id)}])
    # Serialise this member's cart changes, so the line limit holds under concurrency.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"cart:{member_id}"))))
    exists = await session.get(CartLine, (member_id, sku_id))
    if exists is None:
        count = await session.scalar(
            select(func.count()).select_from(CartLine).where(CartLine.member_id == member_id)
        )
        if int(count or 0) >= services.settings.cart_max_lines:
            raise CartFull(f"A cart holds at most {services.settings.cart_max_lines} lines.")
    await session.execute(
        insert(CartLine)
        .values(
            member_id=member_id,
            sku_id=sku_id,
            quantity=body.quantity,
            selected=body.selected,
            price_fen_when_added=sku.price_fen,
        )
        .on_conflict_do_update(
            index_elements=[CartLine.member_id, CartLine.sku_id],
            set_={
                "quantity": body.quantity,
                "selected": body.selected,
                "updated_at": datetime.now(UTC),
            },
        )
    )


async def remove(session: AsyncSession, member_id: uuid.UUID, sku_id: uuid.UUID) -> None:
    result = await session.execute(
        delete(CartLine).where(CartLine.member_id == member_id, CartLine.sku_id == sku_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise CartLineNotFound("That item is not in the cart.")


async def select_lines(
    session: AsyncSession, member_id: uuid.UUID, sku_ids: list[uuid.UUID], selected: bool
) -> None:
    await session.execute(
        update(CartLine)
        .where(CartLine.member_id == member_id, CartLine.sku_id.in_(sku_ids))
        .values(selected=selected, updated_at=datetime.now(UTC))
    )
