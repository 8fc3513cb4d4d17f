"""The order consumer process: ``python -m order.consumer``."""

from shared.consumer import run_consumer
from shared.probes import probe_handlers

from order.settings import OrderSettings

HANDLERS = {**probe_handlers(["catalog", "member", "marketing", "payment"])}

if __name__ == "__main__":
    run_consumer(OrderSettings(), HANDLERS)
