"""Gateway settings: environment variables prefixed ``GATEWAY_``."""

from pydantic_settings import BaseSettings
from shared.settings import service_config

DEFAULT_ROUTES = {
    "auth": "member",
    "members": "member",
    "catalog": "catalog",
    "cart": "order",
    "orders": "order",
    "marketing": "marketing",
    "payments": "payment",
}
DEFAULT_UPSTREAMS = {
    "catalog": "http://127.0.0.1:8001",
    "order": "http://127.0.0.1:8002",
    "member": "http://127.0.0.1:8003",
    "marketing": "http://127.0.0.1:8004",
    "payment": "http://127.0.0.1:8005",
}


class GatewaySettings(BaseSettings):
    model_config = service_config("GATEWAY_")

    service_name: str = "gateway"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"
    log_json: bool = True
    # Area (the path segment after /api/v1, /admin/v1 or /open/v1) -> upstream name.
    routes: dict[str, str] = DEFAULT_ROUTES
    # Upstream name -> base URL. JSON in the environment: GATEWAY_UPSTREAMS='{"catalog": "..."}'.
    upstreams: dict[str, str] = DEFAULT_UPSTREAMS
    upstream_timeout_s: float = 10.0
    upstream_connect_timeout_s: float = 1.0
