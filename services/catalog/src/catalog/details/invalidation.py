"""Cache invalidation across instances.

The consumer handles ``catalog.product_changed`` (through the inbox, once) and ``announce``s
it: the Redis copy is deleted, the product's generation bumped (so a reader that loaded the
old row before the change cannot put it back) and the id published on a Redis pub/sub
channel. Every HTTP instance ``listen``s on that channel and drops its in-process copy. A
listener that loses its connection drops its whole in-process cache when it resubscribes,
because it may have missed messages.
"""

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis
from shared.logging import get_logger
from shared.outbox import Backoff, wait_or_stop

log = get_logger(__name__)

DOC_KEY = "catalog:product:{}"
GEN_KEY = "catalog:product-gen:{}"


async def announce(redis: "Redis", channel: str, product_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(GEN_KEY.format(product_id))
        pipe.delete(DOC_KEY.format(product_id))
        pipe.publish(channel, product_id)
        await pipe.execute()


async def listen(
    redis: "Redis",
    channel: str,
    on_change: Callable[[str], None],
    on_reset: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    backoff = Backoff()
    while not stop.is_set():
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            on_reset()  # anything published while we were not listening is lost
            log.info("catalog.invalidations_listening", channel=channel)
            backoff.reset()
            while not stop.is_set():
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "message":
                    on_change(str(message["data"]))
        except Exception as exc:  # Redis away: listen again after a pause
            log.warning("catalog.invalidations_lost", error=repr(exc))
            on_reset()
            await wait_or_stop(stop, backoff.next())
        finally:
            try:
                await asyncio.wait_for(pubsub.aclose(), timeout=2)  # type: ignore[no-untyped-call]
            except Exception as exc:
                log.debug("catalog.pubsub_close_failed", error=repr(exc))
