"""Event-pipeline probes: a smoke test of outbox → Kafka → consumer → inbox across services.

``POST /admin/v1/<area>/diagnostics/probes`` makes the service publish ``<service>.probe_sent``
through its outbox; every other service's consumer records a receipt through its inbox;
``GET /admin/v1/<area>/diagnostics/probes/{probe_id}`` on any service shows its receipt.
SRE uses it after a deploy; the tests use it to prove the kit end to end.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel
from sqlalchemy import DateTime, String, func, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import KitBase, SessionDep
from shared.errors import NotFound
from shared.events import Event
from shared.inbox import Handler
from shared.outbox import add_event

PROBE_EVENT = "probe_sent"


class ProbeReceipt(KitBase):
    __tablename__ = "probe_receipts"

    probe_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    source: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    times_applied: Mapped[int] = mapped_column(default=1)


class ProbeSent(BaseModel):
    probe_id: uuid.UUID
    event_id: uuid.UUID
    type: str


class ProbeReceiptRead(BaseModel):
    probe_id: uuid.UUID
    event_id: uuid.UUID
    source: str
    received_at: datetime
    times_applied: int


async def record_probe(session: AsyncSession, event: Event) -> None:
    """Consumer handler. ``times_applied`` counts effects, so a test can see a no-op redelivery."""
    probe_id = uuid.UUID(str(event.payload["probe_id"]))
    receipt = await session.get(ProbeReceipt, probe_id, with_for_update=True)
    if receipt is None:
        session.add(
            ProbeReceipt(
                probe_id=probe_id, event_id=event.event_id, source=event.type.split(".")[0]
            )
        )
    else:
        receipt.times_applied += 1


def probe_handlers(sources: Iterable[str]) -> dict[str, Handler]:
    return {f"{source}.{PROBE_EVENT}": record_probe for source in sources}


def probes_router(service: str, area: str) -> APIRouter:
    router = APIRouter(prefix=f"/admin/v1/{area}/diagnostics/probes", tags=["diagnostics"])

    @router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=ProbeSent)
    async def send_probe(session: SessionDep, request: Request) -> ProbeSent:
        probe_id = uuid.uuid4()
        event = add_event(
            session, f"{service}.{PROBE_EVENT}", str(probe_id), {"probe_id": str(probe_id)}
        )
        return ProbeSent(probe_id=probe_id, event_id=event.event_id, type=event.type)

    @router.get("/{probe_id}", response_model=ProbeReceiptRead)
    async def get_receipt(probe_id: uuid.UUID, session: SessionDep) -> ProbeReceiptRead:
        receipt = await session.scalar(
            select(ProbeReceipt).where(ProbeReceipt.probe_id == probe_id)
        )
        if receipt is None:
            raise NotFound(f"No receipt for probe {probe_id} in this service.")
        return ProbeReceiptRead.model_validate(receipt, from_attributes=True)

    return router
