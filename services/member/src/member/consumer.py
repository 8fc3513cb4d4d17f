"""The member consumer process: ``python -m member.consumer``."""

from shared.consumer import run_consumer
from shared.probes import probe_handlers

from member.settings import MemberSettings

HANDLERS = {**probe_handlers(["catalog", "order", "marketing", "payment"])}

if __name__ == "__main__":
    run_consumer(MemberSettings(), HANDLERS)
