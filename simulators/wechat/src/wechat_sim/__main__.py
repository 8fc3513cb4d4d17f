"""``python -m wechat_sim``: serve the simulator on ``WECHAT_SIM_HOST``:``WECHAT_SIM_PORT``."""

import uvicorn

from wechat_sim.settings import SimSettings

if __name__ == "__main__":
    settings = SimSettings()
    uvicorn.run("wechat_sim.main:create_app", factory=True, host=settings.host, port=settings.port)
