"""The simulator app: ``uvicorn wechat_sim.main:create_app --factory --port 8900``.

One process stands for WeChat: the mini-program server API (``/sns``, ``/cgi-bin``,
``/wxa``) and the sandbox calls (``/sandbox``). Each feature is a package
(``miniprogram``; WeChat Pay joins as ``pay``) with its state and its router.
"""

from fastapi import FastAPI

from wechat_sim.clock import Clock
from wechat_sim.miniprogram.endpoints import miniprogram_router
from wechat_sim.miniprogram.state import MiniProgram
from wechat_sim.sandbox.endpoints import sandbox_router
from wechat_sim.settings import SimSettings


def create_app(settings: SimSettings | None = None) -> FastAPI:
    settings = settings or SimSettings()
    clock = Clock()
    mp = MiniProgram(settings=settings, clock=clock)
    app = FastAPI(title="WeChat simulator", version="0.1.0")
    app.state.settings = settings
    app.state.clock = clock
    app.state.miniprogram = mp
    app.include_router(miniprogram_router(mp))
    app.include_router(sandbox_router(mp, clock))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
