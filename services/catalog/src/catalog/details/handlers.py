"""The consumer's side of cache invalidation: ``catalog.product_changed`` → ``announce``."""

from redis.asyncio import Redis
from shared.events import Event
from shared.inbox import Handler
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.details.invalidation import announce
from catalog.settings import CatalogSettings


def cache_handlers(settings: CatalogSettings, redis: "Redis") -> dict[str, Handler]:
    async def product_changed(session: AsyncSession, event: Event) -> None:
        product_id = str(event.payload.get("product_id") or event.aggregate_id)
        await announce(redis, settings.invalidation_channel, product_id)

    return {"catalog.product_changed": product_changed}
