"""The catalog consumer process: ``python -m catalog.consumer``."""

from shared.consumer import run_consumer
from shared.probes import probe_handlers

from catalog.settings import CatalogSettings

HANDLERS = {**probe_handlers(["order", "member", "marketing", "payment"])}

if __name__ == "__main__":
    run_consumer(CatalogSettings(), HANDLERS)
