"""Gateway settings: environment variables prefixed ``GATEWAY_`` (JSON for the structured ones)."""

from typing import Literal

from pydantic import BaseModel
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


class RouteRule(BaseModel):
    """What the gateway does for requests matching ``method`` and ``path``.

    ``path`` is a pattern: ``*`` matches one segment, a trailing ``**`` any rest.
    The first matching rule wins; ``methods`` empty means any method.
    """

    path: str
    methods: list[str] = []
    public: bool = False  # no token needed (a valid one is still passed on)
    roles: list[str] = []  # /admin/v1: staff roles allowed (admin always is)
    rate_class: str = "default"
    timeout_s: float | None = None


class RateLimit(BaseModel):
    """``limit`` requests per ``period_s``, as a burst of ``limit`` refilled evenly (GCRA)."""

    limit: int
    period_s: float


DEFAULT_RULES = [
    # Members: public routes are declared here, everything else needs a member token.
    RouteRule(path="/api/v1/auth/wechat/login", methods=["POST"], public=True, rate_class="login"),
    RouteRule(path="/api/v1/auth/refresh", methods=["POST"], public=True, rate_class="login"),
    # Logout takes the refresh token; an expired access token must not stop it.
    RouteRule(path="/api/v1/auth/logout", methods=["POST"], public=True, rate_class="login"),
    RouteRule(path="/api/v1/catalog/**", methods=["GET", "HEAD"], public=True),
    RouteRule(path="/api/v1/marketing/coupons", methods=["GET"], public=True),
    RouteRule(path="/api/v1/marketing/promotions", methods=["GET"], public=True),
    RouteRule(path="/api/v1/marketing/flash-sales", methods=["GET"], public=True),
    # Group-buy and bargain offers and share pages (a member token is still passed on).
    RouteRule(path="/api/v1/marketing/group-buys", methods=["GET"], public=True),
    RouteRule(path="/api/v1/marketing/group-buys/groups/*", methods=["GET"], public=True),
    RouteRule(path="/api/v1/marketing/bargains", methods=["GET"], public=True),
    RouteRule(path="/api/v1/marketing/bargains/*", methods=["GET"], public=True),
    RouteRule(
        path="/api/v1/marketing/flash-sales/*/purchase", methods=["POST"], rate_class="flash_sale"
    ),
    RouteRule(
        path="/api/v1/payments/wechat/notify", methods=["POST"], public=True, rate_class="notify"
    ),
    RouteRule(
        path="/api/v1/payments/wechat/refund-notify",
        methods=["POST"],
        public=True,
        rate_class="notify",
    ),
    RouteRule(path="/api/v1/**"),
    # Staff: login is public; every other admin route names its roles (admin always passes).
    RouteRule(path="/admin/v1/auth/login", methods=["POST"], public=True, rate_class="login"),
    RouteRule(path="/admin/v1/auth/refresh", methods=["POST"], public=True, rate_class="login"),
    RouteRule(path="/admin/v1/auth/logout", methods=["POST"], public=True, rate_class="login"),
    RouteRule(path="/admin/v1/auth/**", roles=["operator", "customer_service", "finance"]),
    RouteRule(path="/admin/v1/*/diagnostics/**", roles=[]),
    RouteRule(path="/admin/v1/members/staff/**", roles=[]),
    RouteRule(path="/admin/v1/members/api-keys/**", roles=[]),
    RouteRule(path="/admin/v1/members/**", roles=["operator", "customer_service"]),
    RouteRule(path="/admin/v1/catalog/**", roles=["operator"]),
    RouteRule(path="/admin/v1/marketing/**", roles=["operator"]),
    RouteRule(path="/admin/v1/orders/**", roles=["operator", "customer_service"]),
    RouteRule(path="/admin/v1/payments/**", roles=["finance"]),
    RouteRule(path="/admin/v1/**", roles=[]),
    # Suppliers: every /open/v1 route is signed.
    RouteRule(path="/open/v1/**", rate_class="open"),
]

DEFAULT_RATE_LIMITS = {
    # Per route class, applied per member (or per IP for anonymous calls) ...
    "default": RateLimit(limit=300, period_s=60),
    "login": RateLimit(limit=20, period_s=60),
    "flash_sale": RateLimit(limit=5, period_s=10),
    # Flash-sale purchases per client IP as well (members behind one NAT share it).
    "flash_sale_ip": RateLimit(limit=200, period_s=10),
    "notify": RateLimit(limit=6000, period_s=60),
    "open": RateLimit(limit=600, period_s=60),
    # ... and per IP over all classes, and per supplier key per day.
    "ip": RateLimit(limit=1200, period_s=60),
}


class GatewaySettings(BaseSettings):
    model_config = service_config("GATEWAY_")

    service_name: str = "gateway"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"
    log_json: bool = True
    shutdown_drain_s: float = 0.0  # as for services: see shared.settings.ServiceSettings

    # Area (the path segment after /api/v1, /admin/v1 or /open/v1) -> upstream name.
    routes: dict[str, str] = DEFAULT_ROUTES
    # Upstream name -> base URL. JSON in the environment: GATEWAY_UPSTREAMS='{"catalog": "..."}'.
    upstreams: dict[str, str] = DEFAULT_UPSTREAMS
    rules: list[RouteRule] = DEFAULT_RULES
    upstream_timeout_s: float = 10.0
    upstream_connect_timeout_s: float = 1.0
    upstream_connect_retries: int = 2  # idempotent methods only, connect errors only
    breaker_failures: int = 5  # consecutive failures that open an upstream's breaker
    breaker_open_s: float = 10.0  # then one probe request is let through

    # Member and staff tokens (docs/auth.md).
    jwt_issuer: str = "minimall-member"
    jwt_member_audience: str = "minimall-api"
    jwt_staff_audience: str = "minimall-admin"
    jwks_path: str = "/.well-known/jwks.json"  # on the member upstream
    jwks_refresh_s: float = 300.0
    jwt_leeway_s: int = 5

    # Supplier signatures.
    signature_window_s: int = 300
    api_key_cache_s: float = 10.0

    rate_limits: dict[str, RateLimit] = DEFAULT_RATE_LIMITS
    rate_limit_failure_mode: Literal["open", "closed"] = "open"
    trusted_proxies: int = 0  # how many X-Forwarded-For hops to trust for the client IP

    max_body_bytes: int = 1_048_576
    cors_origins: list[str] = []  # e.g. ["https://admin.example.com"]; mini-programs need none
