"""WeChat Pay test kit: our client pointed at the simulator, and a notify_url receiver.

``Receiver`` is a small aiohttp server in the test's event loop standing for the future
notify endpoint: it verifies and decrypts each notification with our ``NotificationParser``,
answers 204 (or 4xx when verification fails, or 500 while ``fail_first`` lasts) and keeps
every delivery (raw headers and bytes) for the test to check again with wechatpayv3.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from devstack.infra import free_port
from devstack.stack import payment_wechatpay_env
from payment.settings import PaymentSettings
from payment.wechatpay import Notification, NotificationParser, WeChatPayClient
from payment.wechatpay.client import create_wechatpay_client
from payment.wechatpay.errors import WeChatPayError
from wechat_sim.pay.keys import DevKeys


def settings_for(sim_url: str, keys: DevKeys, **over: Any) -> PaymentSettings:
    """``PaymentSettings`` as ``make run`` sets them (``payment_wechatpay_env``), plus ``over``."""
    env = payment_wechatpay_env(sim_url, keys)
    fields: dict[str, Any] = {k.removeprefix("PAYMENT_").lower(): v for k, v in env.items()}
    return PaymentSettings(**(fields | over))


def client_for(sim_url: str, keys: DevKeys, **over: Any) -> WeChatPayClient:
    return create_wechatpay_client(settings_for(sim_url, keys, **over))


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int
    verdict: str  # "ok" or why our verifier refused it
    notification: Notification | None


@dataclass
class Receiver:
    parser: NotificationParser
    port: int = field(default_factory=free_port)
    deliveries: dict[str, list[Delivery]] = field(default_factory=lambda: defaultdict(list))
    fail_first: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/notify/{name}"

    def accepted(self, name: str) -> list[Delivery]:
        return [d for d in self.deliveries[name] if d.status in (200, 204)]

    async def _notify(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        headers = dict(request.headers)
        notification, verdict = None, "ok"
        try:
            notification = await self.parser.parse(headers, body)
        except WeChatPayError as exc:
            verdict = getattr(exc, "reason", exc.code)
        if self.fail_first.get(name, 0) > 0:
            self.fail_first[name] -= 1
            status = 500
        else:
            status = 204 if notification is not None else 401
        self.deliveries[name].append(Delivery(headers, body, status, verdict, notification))
        if status == 204:
            return web.Response(status=204)
        return web.json_response({"code": "FAIL", "message": verdict}, status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify/{name}", self._notify)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
