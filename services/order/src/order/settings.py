"""Settings of the order service: environment variables prefixed ``ORDER_``."""

from shared.settings import ServiceSettings, service_config


class OrderSettings(ServiceSettings):
    model_config = service_config("ORDER_")

    service_name: str = "order"
    http_port: int = 8002
