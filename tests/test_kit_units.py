"""Pure parts of the kit: envelope, topics, settings prefixes, backoff, join stalls."""

import asyncio
import uuid
from typing import cast

import pytest
from shared.db import SessionMaker
from shared.events import Event, topic_for
from shared.inbox import EventConsumer, GroupJoinStalled
from shared.kafka import AIOKafkaConsumer
from shared.outbox import Backoff
from shared.settings import ServiceSettings, service_config


def test_event_type_names_its_topic() -> None:
    assert topic_for("order.paid") == "order.events"
    for bad in ("paid", ".paid", "order."):
        with pytest.raises(ValueError):
            topic_for(bad)


def test_envelope_round_trips_with_headers() -> None:
    event = Event(
        type="order.paid", aggregate_id="o-1", payload={"total_fen": 1999}, request_id="r1"
    )
    again = Event.from_bytes(event.to_bytes())
    assert again == event
    assert isinstance(again.event_id, uuid.UUID)
    assert again.occurred_at.tzinfo is not None
    assert dict(event.kafka_headers()) == {"event-type": b"order.paid", "x-request-id": b"r1"}
    assert set(event.model_dump()) == {
        "event_id",
        "type",
        "occurred_at",
        "aggregate_id",
        "payload",
        "request_id",
    }


def test_settings_read_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    class PaymentSettings(ServiceSettings):
        model_config = service_config("PAYMENT_")

    monkeypatch.setenv("PAYMENT_DATABASE_URL", "postgresql+asyncpg://p@h:1/payment")
    monkeypatch.setenv("ORDER_DATABASE_URL", "postgresql+asyncpg://o@h:1/order")
    monkeypatch.setenv("PAYMENT_KAFKA_ENABLE_IDEMPOTENCE", "false")
    settings = PaymentSettings()
    assert settings.database_url.endswith("/payment")
    assert settings.kafka_enable_idempotence is False


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(first=0.5, cap=3)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    backoff.reset()
    assert backoff.next() == 0.5


class _NeverAssigned:
    """A consumer stuck waiting for the group to assign it partitions: aiokafka's
    ``getmany`` then waits without a limit (seen on Tansu with a departed leader)."""

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[object, list[object]]:
        await asyncio.Event().wait()
        return {}


async def test_a_consumer_never_given_partitions_gives_up_and_rejoins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shared.inbox.JOIN_STALL_S", 0.2)
    consumer = EventConsumer(
        ServiceSettings(service_name="t"), cast(SessionMaker, None), {"order.paid": _noop}
    )
    with pytest.raises(GroupJoinStalled):
        await consumer._poll(cast(AIOKafkaConsumer, _NeverAssigned()), asyncio.Event())


async def _noop(session: object, event: Event) -> None:
    return None
