"""The marketing consumer process: ``python -m marketing.consumer``."""

from shared.consumer import run_consumer
from shared.probes import probe_handlers

from marketing.settings import MarketingSettings

HANDLERS = {**probe_handlers(["catalog", "order", "member", "payment"])}

if __name__ == "__main__":
    run_consumer(MarketingSettings(), HANDLERS)
