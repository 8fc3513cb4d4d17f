"""WeChat Pay in one object: keys, the ledger, notifications, test switches and faults."""

import asyncio
import logging
import tempfile
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from wechat_sim.pay.keyring import Keyring, Signer
from wechat_sim.pay.keys import ensure_dev_keys
from wechat_sim.pay.notifier import Notifier, Outgoing, envelope
from wechat_sim.pay.schemas import AnswerFaultCreate, PaySwitches
from wechat_sim.pay.state import Ledger, PayOrder, PayRefund
from wechat_sim.settings import SimSettings

log = logging.getLogger(__name__)

REFUND_SUMMARY = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}


@dataclass
class Bill:
    content: bytes
    expires_at: float


class PaySimulator:
    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.switches = PaySwitches(certificates_enabled=settings.pay_certificates_enabled)
        self.faults: list[AnswerFaultCreate] = []
        self.stats: Counter[str] = Counter()
        self.bills: dict[str, Bill] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.notifier = Notifier(
            keyring=lambda: self.keyring,
            time_scale=settings.pay_time_scale,
            timeout_s=settings.pay_notify_timeout_s,
            spawn=self.spawn,
        )

    @cached_property
    def keyring(self) -> Keyring:
        directory = self.settings.pay_keys_dir or tempfile.mkdtemp(prefix="wechat-sim-pay-")
        keys = ensure_dev_keys(directory)
        log.warning("wechat_sim.pay_keys directory=%s mchid=%s", keys.directory, keys.mchid)
        return Keyring(keys)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(mchid=self.keyring.dev.mchid, appid=self.settings.appid)

    # -- background work -------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.notifier.aclose()

    # -- faults ------------------------------------------------------------------------------

    def take_fault(self, api: str, *, error: bool) -> AnswerFaultCreate | None:
        """The next injected fault for ``api``: an error answer, or a spoiled signature."""
        for fault in self.faults:
            if (fault.kind == "error") != error or fault.api not in (None, api):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return fault
        return None

    # -- notifications -----------------------------------------------------------------------

    def _signer(self, wants_serial: str | None) -> Signer:
        choice = self.switches.notify_signer
        if choice == "public_key":
            return self.keyring.public_key_signer()
        if choice == "certificate":
            return self.keyring.signer_for(None)
        return self.keyring.signer_for(wants_serial)

    def notify_payment(self, order: PayOrder) -> Outgoing:
        event_id, body = envelope(
            "TRANSACTION.SUCCESS",
            "支付成功",
            "transaction",
            order.transaction(),
            self.keyring.dev.apiv3_key,
        )
        return self.notifier.send(
            Outgoing(
                id=event_id,
                event_type="TRANSACTION.SUCCESS",
                url=order.notify_url,
                body=body,
                signer=self._signer(order.wants_serial),
                out_trade_no=order.out_trade_no,
            )
        )

    def notify_refund(self, refund: PayRefund) -> Outgoing | None:
        if not refund.notify_url:
            return None  # WeChat would use the URL set in the merchant platform: none here
        event_type = f"REFUND.{refund.status}"
        event_id, body = envelope(
            event_type,
            REFUND_SUMMARY[refund.status],
            "refund",
            refund.notice(),
            self.keyring.dev.apiv3_key,
        )
        return self.notifier.send(
            Outgoing(
                id=event_id,
                event_type=event_type,
                url=refund.notify_url,
                body=body,
                signer=self._signer(refund.order.wants_serial),
                out_trade_no=refund.order.out_trade_no,
                out_refund_no=refund.out_refund_no,
            )
        )

    async def signtest_probe(self, url: str) -> int | None:
        """A WECHATPAY/SIGNTEST/ notification: the merchant must answer 4xx/5xx."""
        resource = {
            "appid": self.settings.appid,
            "mchid": self.keyring.dev.mchid,
            "out_trade_no": "SIGNTEST-PROBE",
            "trade_state": "SUCCESS",
        }
        event_id, body = envelope(
            "TRANSACTION.SUCCESS", "支付成功", "transaction", resource, self.keyring.dev.apiv3_key
        )
        probe = Outgoing(
            id=event_id,
            event_type="TRANSACTION.SUCCESS",
            url=url,
            body=body,
            signer=self.keyring.signer_for(None),
            out_trade_no="SIGNTEST-PROBE",
        )
        self.notifier.outgoing[probe.id] = probe
        return await self.notifier.deliver(probe, "probe", spoiler="signtest")

    # -- refunds -------------------------------------------------------------------------------

    def refund_accepted(self, refund: PayRefund) -> None:
        if self.switches.hold_refunds:
            return

        async def later() -> None:
            await asyncio.sleep(self.settings.pay_refund_settle_s * self.settings.pay_time_scale)
            self.settle(refund, "SUCCESS")

        self.spawn(later())

    def settle(self, refund: PayRefund, status: str) -> bool:
        if not self.ledger.settle(refund, status):
            return False
        self.notify_refund(refund)
        return True
