"""Settings of the order service: environment variables prefixed ``ORDER_``."""

from shared.settings import ServiceSettings, service_config


class OrderSettings(ServiceSettings):
    model_config = service_config("ORDER_")

    service_name: str = "order"
    http_port: int = 8002

    catalog_url: str = "http://127.0.0.1:8001"
    member_url: str = "http://127.0.0.1:8003"
    marketing_url: str = "http://127.0.0.1:8004"

    cart_max_lines: int = 50
    max_quantity_per_line: int = 99
    unpaid_timeout_s: int = 1800  # pending_payment → cancelled after this
    auto_complete_days: int = 7  # shipped → completed after this
    creating_timeout_s: int = 120  # an order stuck half-created is compensated after this
    sweep_interval_s: float = 5.0
    idempotency_ttl_h: int = 48  # at least 24 h
    # Points as money: 100 points are 1 yuan; at most this share of the goods (basis points).
    points_fen_each: int = 1
    points_max_share_bp: int = 5000
    # The consumer group of `python -m order.flash_sales`. Change it only knowingly: a new
    # group starts from the earliest retained intent (order creation is idempotent by ticket).
    flash_sale_group_id: str = "order-flash-sale"
