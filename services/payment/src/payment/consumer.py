"""The payment consumer process: ``python -m payment.consumer``."""

from shared.consumer import run_consumer
from shared.probes import probe_handlers

from payment.settings import PaymentSettings

HANDLERS = {**probe_handlers(["catalog", "order", "member", "marketing"])}

if __name__ == "__main__":
    run_consumer(PaymentSettings(), HANDLERS)
