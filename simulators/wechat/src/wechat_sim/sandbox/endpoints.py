"""Sandbox calls: what a person does inside WeChat, plus switches for tests.

``POST /sandbox/login-code`` is the code ``wx.login`` would return; the rest grant phone
numbers and subscriptions, inject errors, advance the clock and show what was sent.
"""

from fastapi import APIRouter, status

from wechat_sim.clock import Clock
from wechat_sim.miniprogram.state import InjectedFault, MiniProgram
from wechat_sim.sandbox.schemas import (
    ClockAdvance,
    ClockRead,
    CodeRead,
    FaultCreate,
    LoginCodeCreate,
    LoginCodeRead,
    MessageRead,
    PhoneCodeCreate,
    SubscriptionCreate,
    SubscriptionRead,
)


def sandbox_router(mp: MiniProgram, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/sandbox", tags=["sandbox"])

    @router.post("/login-code")
    async def login_code(body: LoginCodeCreate | None = None) -> LoginCodeRead:
        body = body or LoginCodeCreate()
        issued = mp.issue_login_code(body.openid, body.unionid)
        return LoginCodeRead(code=issued.code, openid=issued.openid)

    @router.post("/phone-code")
    async def phone_code(body: PhoneCodeCreate) -> CodeRead:
        issued = mp.issue_phone_code(body.openid, body.phone_number, body.country_code)
        return CodeRead(code=issued.code)

    @router.post("/subscriptions")
    async def subscribe(body: SubscriptionCreate) -> SubscriptionRead:
        remaining = mp.subscribe(body.openid, body.template_id, body.times)
        return SubscriptionRead(
            openid=body.openid, template_id=body.template_id, remaining=remaining
        )

    @router.get("/messages")
    async def messages(openid: str | None = None) -> list[MessageRead]:
        return [
            MessageRead(
                msgid=m.msgid,
                touser=m.touser,
                template_id=m.template_id,
                page=m.page,
                data=m.data,
                sent_at=m.sent_at,
            )
            for m in mp.messages
            if openid is None or m.touser == openid
        ]

    @router.post("/faults", status_code=status.HTTP_201_CREATED)
    async def inject(body: FaultCreate) -> FaultCreate:
        mp.inject(InjectedFault(body.api, body.errcode, body.times, body.openid))
        return body

    @router.delete("/faults", status_code=status.HTTP_204_NO_CONTENT)
    async def clear_faults() -> None:
        mp.faults.clear()

    @router.post("/clock")
    async def advance_clock(body: ClockAdvance) -> ClockRead:
        clock.advance(body.seconds)
        return ClockRead(now=clock.now(), offset_s=clock.offset_s)

    @router.get("/stats")
    async def stats() -> dict[str, int]:
        return dict(mp.stats)

    return router
