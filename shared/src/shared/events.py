"""The one event envelope every service publishes and consumes.

``type`` is ``<service>.<past_verb>`` (``order.paid``); the topic is ``<service>.events``;
the Kafka key is ``aggregate_id``, so events of one aggregate stay in order on one partition.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_TYPE_HEADER = "event-type"
REQUEST_ID_KAFKA_HEADER = "x-request-id"


def topic_for(event_type: str) -> str:
    service, _, verb = event_type.partition(".")
    if not service or not verb:
        raise ValueError(f"event type must be <service>.<past_verb>, got {event_type!r}")
    return f"{service}.events"


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    aggregate_id: str
    payload: dict[str, Any]
    request_id: str | None = None

    @property
    def topic(self) -> str:
        return topic_for(self.type)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Event":
        return cls.model_validate_json(raw)

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        headers = [(EVENT_TYPE_HEADER, self.type.encode())]
        if self.request_id:
            headers.append((REQUEST_ID_KAFKA_HEADER, self.request_id.encode()))
        return headers
