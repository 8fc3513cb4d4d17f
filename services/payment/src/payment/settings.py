"""Settings of the payment service: environment variables prefixed ``PAYMENT_``."""

from shared.settings import ServiceSettings, service_config


class PaymentSettings(ServiceSettings):
    model_config = service_config("PAYMENT_")

    service_name: str = "payment"
    http_port: int = 8005
