"""Pure parts of the kit: envelope, topics, settings prefixes, backoff."""

import uuid

import pytest
from shared.events import Event, topic_for
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
