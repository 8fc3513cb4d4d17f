"""The member consumer process: ``python -m member.consumer``."""

from shared.consumer import run_consumer
from shared.inbox import Handler
from shared.probes import probe_handlers

from member.points.handlers import points_handlers
from member.settings import MemberSettings


def handlers(settings: MemberSettings) -> dict[str, Handler]:
    return {
        **probe_handlers(["catalog", "order", "marketing", "payment"]),
        **points_handlers(settings),
    }


if __name__ == "__main__":
    settings = MemberSettings()
    run_consumer(settings, handlers(settings))
