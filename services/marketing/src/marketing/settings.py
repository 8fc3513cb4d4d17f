"""Settings of the marketing service: environment variables prefixed ``MARKETING_``."""

from shared.settings import ServiceSettings, service_config


class MarketingSettings(ServiceSettings):
    model_config = service_config("MARKETING_")

    service_name: str = "marketing"
    http_port: int = 8004
