"""The Redis client: one connection pool per process, made in the lifespan."""

from redis.asyncio import Redis


def create_redis(url: str) -> "Redis":
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
