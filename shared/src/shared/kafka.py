"""aiokafka wrappers: configuration from settings, topic creation, the event producer."""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.group import LeaveGroupRequest

from shared.events import Event
from shared.logging import get_logger
from shared.settings import InfraSettings

log = get_logger(__name__)


def producer_config(settings: InfraSettings) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": f"{settings.service_name}-producer",
        "acks": "all",
        "enable_idempotence": settings.kafka_enable_idempotence,
        "linger_ms": 2,
        "request_timeout_ms": 5000,
        "retry_backoff_ms": 200,
        "metadata_max_age_ms": 10_000,
    }


def consumer_config(settings: InfraSettings, group_id: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": f"{settings.service_name}-consumer",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": 10_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 2_000,
        "metadata_max_age_ms": 5_000,
        "retry_backoff_ms": 200,
    }


async def stop_consumer(consumer: AIOKafkaConsumer, timeout: float = 10.0) -> None:
    """Leave the group and close. aiokafka sends LeaveGroup only from generation 1 on (where
    Apache Kafka starts); the Tansu broker starts at 0, so there a stopped member stayed in
    the group until its session expired, named as the leader of the next join, and the
    consumers started after it got no partitions until the broker gave up on it (observed:
    up to minutes). Leaving explicitly makes the next join immediate on either broker."""
    coordinator = getattr(consumer, "_coordinator", None)  # aiokafka's own, pinned in uv.lock
    if coordinator is not None and getattr(coordinator, "generation", -1) == 0:
        request = LeaveGroupRequest(coordinator.group_id, coordinator.member_id)
        try:
            await asyncio.wait_for(coordinator._send_req(request), timeout=2)
            log.info("kafka.group_left", group=coordinator.group_id)
        except Exception as exc:  # best effort: the session timeout evicts it anyway
            log.debug("kafka.group_leave_failed", error=repr(exc))
    await asyncio.wait_for(consumer.stop(), timeout=timeout)


async def ensure_topics(settings: InfraSettings, topics: Iterable[str]) -> None:
    """Create missing topics. Production topics are usually declared by the operator
    (Strimzi KafkaTopic); creating an existing one is harmless."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, settings.kafka_topic_partitions, settings.kafka_topic_replication)
            for t in sorted(set(topics) - existing)
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics(missing)
            log.info("kafka.topics_created", topics=[t.name for t in missing])
    finally:
        await admin.close()


class EventProducer:
    """Publishes envelopes keyed by aggregate id, with the request id in the headers."""

    def __init__(self, settings: InfraSettings) -> None:
        self._producer = AIOKafkaProducer(**producer_config(settings))

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, event: Event) -> None:
        await self._producer.send_and_wait(
            event.topic,
            value=event.to_bytes(),
            key=event.aggregate_id.encode(),
            headers=event.kafka_headers(),
        )


class KafkaProbe:
    """Readiness check: the broker answers a metadata request."""

    def __init__(self, settings: InfraSettings) -> None:
        self._settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        async with self._lock:
            if self._admin is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._settings.kafka_bootstrap_servers,
                    request_timeout_ms=2000,
                )
                try:
                    await admin.start()
                except BaseException:
                    await admin.close()
                    raise
                self._admin = admin
            await self._admin.list_topics()

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None


__all__ = [
    "AIOKafkaConsumer",
    "EventProducer",
    "KafkaProbe",
    "consumer_config",
    "ensure_topics",
    "stop_consumer",
]
