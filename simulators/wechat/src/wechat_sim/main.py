"""The simulator app: ``uvicorn wechat_sim.main:create_app --factory --port 8900``.

One process stands for WeChat: the mini-program server API (``/sns``, ``/cgi-bin``,
``/wxa``), WeChat Pay API v3 (``/v3``) and the sandbox calls (``/sandbox``). Each feature
is a package (``miniprogram``, ``pay``) with its state and its router.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wechat_sim.clock import Clock
from wechat_sim.miniprogram.endpoints import miniprogram_router
from wechat_sim.miniprogram.state import MiniProgram
from wechat_sim.pay.endpoints import install_pay
from wechat_sim.pay.sandbox import pay_sandbox_router
from wechat_sim.pay.simulator import PaySimulator
from wechat_sim.sandbox.endpoints import sandbox_router
from wechat_sim.settings import SimSettings


def create_app(settings: SimSettings | None = None) -> FastAPI:
    settings = settings or SimSettings()
    clock = Clock()
    mp = MiniProgram(settings=settings, clock=clock)
    pay = PaySimulator(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pay.aclose()  # pending notifications and refunds die with the process

    app = FastAPI(title="WeChat simulator", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = clock
    app.state.miniprogram = mp
    app.state.pay = pay
    app.include_router(miniprogram_router(mp))
    app.include_router(sandbox_router(mp, clock))
    install_pay(app, pay)
    app.include_router(pay_sandbox_router(pay))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
