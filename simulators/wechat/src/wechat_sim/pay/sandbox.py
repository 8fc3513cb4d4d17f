"""Sandbox calls of WeChat Pay: what the shopper does inside WeChat, and test switches.

``POST /sandbox/pay {prepay_id}`` is the shopper confirming the payment: the order turns
SUCCESS and its notification goes out on WeChat's retry schedule.
"""

from fastapi import APIRouter, HTTPException, status

from wechat_sim.pay.notifier import Outgoing
from wechat_sim.pay.schemas import (
    AnswerFaultCreate,
    AttemptRead,
    CertificateRotated,
    DeliveriesRead,
    DuplicatesCreate,
    NotificationRead,
    PayCreate,
    PayKeysRead,
    PayRead,
    PaySwitches,
    PaySwitchesUpdate,
    ProbeCreate,
    RefundSettle,
)
from wechat_sim.pay.simulator import PaySimulator


def _read(o: Outgoing) -> NotificationRead:
    return NotificationRead(
        id=o.id,
        event_type=o.event_type,
        url=o.url,
        out_trade_no=o.out_trade_no,
        out_refund_no=o.out_refund_no,
        serial=o.signer.serial,
        delivered=o.delivered,
        gave_up=o.gave_up,
        attempts=[
            AttemptRead(at=a.at, kind=a.kind, status=a.status, error=a.error) for a in o.attempts
        ],
    )


def pay_sandbox_router(sim: PaySimulator) -> APIRouter:
    router = APIRouter(prefix="/sandbox/pay", tags=["sandbox: WeChat Pay"])

    @router.post("")
    async def pay(body: PayCreate) -> PayRead:
        try:
            order = sim.ledger.pay(body.prepay_id, body.total)
        except LookupError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        outgoing = sim.notify_payment(order)
        assert order.transaction_id is not None
        return PayRead(
            out_trade_no=order.out_trade_no,
            transaction_id=order.transaction_id,
            notification_id=outgoing.id,
        )

    @router.get("/notifications")
    async def notifications(
        out_trade_no: str | None = None, out_refund_no: str | None = None
    ) -> list[NotificationRead]:
        return [
            _read(o)
            for o in sim.notifier.outgoing.values()
            if out_trade_no in (None, o.out_trade_no) and out_refund_no in (None, o.out_refund_no)
        ]

    @router.post("/notifications/{notification_id}/duplicates")
    async def duplicates(notification_id: str, body: DuplicatesCreate) -> DeliveriesRead:
        outgoing = sim.notifier.outgoing.get(notification_id)
        if outgoing is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown notification")
        return DeliveriesRead(statuses=await sim.notifier.duplicates(outgoing, body.copies))

    @router.post("/signtest-probe")
    async def signtest_probe(body: ProbeCreate) -> DeliveriesRead:
        return DeliveriesRead(statuses=[await sim.signtest_probe(body.notify_url)])

    @router.post("/refunds/{out_refund_no}/settle")
    async def settle(out_refund_no: str, body: RefundSettle) -> dict[str, str]:
        refund = sim.ledger.refunds.get(out_refund_no)
        if refund is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown refund")
        if not sim.settle(refund, body.status):
            raise HTTPException(status.HTTP_409_CONFLICT, f"the refund is {refund.status}")
        return {"status": refund.status}

    @router.post("/faults", status_code=status.HTTP_201_CREATED)
    async def inject(body: AnswerFaultCreate) -> AnswerFaultCreate:
        sim.faults.append(body.model_copy())
        return body

    @router.delete("/faults", status_code=status.HTTP_204_NO_CONTENT)
    async def clear_faults() -> None:
        sim.faults.clear()

    @router.get("/settings")
    async def switches() -> PaySwitches:
        return sim.switches

    @router.post("/settings")
    async def change(body: PaySwitchesUpdate) -> PaySwitches:
        sim.switches = sim.switches.model_copy(update=body.model_dump(exclude_none=True))
        return sim.switches

    @router.post("/certificates/rotate")
    async def rotate() -> CertificateRotated:
        platform = sim.keyring.rotate()
        return CertificateRotated(
            serial_no=platform.serial, serials=[p.serial for p in sim.keyring.platforms]
        )

    @router.get("/stats")
    async def stats() -> dict[str, int]:
        return dict(sim.stats)

    @router.get("/keys")
    async def keys() -> PayKeysRead:
        dev = sim.keyring.dev
        return PayKeysRead(
            directory=str(dev.directory),
            mchid=dev.mchid,
            appid=sim.settings.appid,
            merchant_serial=dev.merchant_serial,
            public_key_id=dev.pub_key_id,
            platform_serials=[p.serial for p in sim.keyring.platforms],
        )

    return router
