"""Settings of the catalog service: environment variables prefixed ``CATALOG_``."""

from shared.settings import ServiceSettings, service_config


class CatalogSettings(ServiceSettings):
    model_config = service_config("CATALOG_")

    service_name: str = "catalog"
    http_port: int = 8001
