"""Notifications to the merchant's notify_url, as WeChat sends them (wechat-notes.md §4).

The resource is encrypted with the APIv3 key (AES-256-GCM, 12-character nonce); every
attempt is freshly signed (timestamp, nonce, signature). Only 200 and 204 count as
delivered; otherwise WeChat retries after 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/
6h/6h (24h4m), here multiplied by ``WECHAT_SIM_PAY_TIME_SCALE``.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from wechat_sim.pay.crypto import encrypt
from wechat_sim.pay.keyring import Keyring, Signer
from wechat_sim.pay.state import rfc3339

RETRY_DELAYS_S = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
DELIVERED = (200, 204)


@dataclass
class Attempt:
    at: float
    kind: str  # scheduled | duplicate | probe
    status: int | None
    error: str | None = None


@dataclass
class Outgoing:
    id: str
    event_type: str
    url: str
    body: bytes
    signer: Signer
    out_trade_no: str
    out_refund_no: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    gave_up: bool = False


def envelope(
    event_type: str, summary: str, original_type: str, resource: dict[str, Any], apiv3_key: str
) -> tuple[str, bytes]:
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    event_id = str(uuid.uuid4())
    body = {
        "id": event_id,
        "create_time": rfc3339(time.time()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            **encrypt(apiv3_key, plaintext, original_type),
        },
    }
    return event_id, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Notifier:
    def __init__(
        self,
        *,
        keyring: Callable[[], Keyring],
        time_scale: float,
        timeout_s: float,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._keyring = keyring
        self._scale = time_scale
        self._timeout_s = timeout_s
        self._spawn = spawn
        self._http: httpx.AsyncClient | None = None
        self.outgoing: dict[str, Outgoing] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self._timeout_s, headers={"User-Agent": "Mozilla/4.0"}
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def send(self, outgoing: Outgoing) -> Outgoing:
        self.outgoing[outgoing.id] = outgoing
        self._spawn(self._run(outgoing))
        return outgoing

    async def _run(self, outgoing: Outgoing) -> None:
        for delay in (0, *RETRY_DELAYS_S):
            await asyncio.sleep(delay * self._scale)
            if outgoing.delivered:
                return
            if await self.deliver(outgoing, "scheduled") in DELIVERED:
                outgoing.delivered = True
                return
        outgoing.gave_up = True

    async def deliver(
        self, outgoing: Outgoing, kind: str, spoiler: str | None = None
    ) -> int | None:
        """One POST, freshly signed; returns the merchant's status (None: no answer)."""
        body, headers = self._keyring().sign(outgoing.body, outgoing.signer, spoiler)
        attempt = Attempt(at=time.time(), kind=kind, status=None)
        outgoing.attempts.append(attempt)
        try:
            response = await self.http.post(
                outgoing.url, content=body, headers=headers | {"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            attempt.error = type(exc).__name__
            return None
        attempt.status = response.status_code
        return response.status_code

    async def duplicates(self, outgoing: Outgoing, copies: int) -> list[int | None]:
        """The same notification ``copies`` times at once (WeChat resends over other routes)."""
        return list(
            await asyncio.gather(*(self.deliver(outgoing, "duplicate") for _ in range(copies)))
        )
