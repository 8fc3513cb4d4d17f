"""Settings of the marketing service: environment variables prefixed ``MARKETING_``."""

import uuid

from shared.settings import ServiceSettings, service_config


class MarketingSettings(ServiceSettings):
    model_config = service_config("MARKETING_")

    service_name: str = "marketing"
    http_port: int = 8004

    # --- coupons and promotions (issue 8) ---
    coupon_sweep_interval_s: float = 30.0  # available coupons past their end → expired
    # A lock no order.created confirms is given back after this (order's creation timeout is
    # 120 s; this leaves room for Kafka lag).
    coupon_unconfirmed_lock_s: int = 900

    # --- group-buy, bargain, referral, abandoned cart (issue 8) ---
    # Where the consumer and the background task reach other services.
    catalog_url: str = "http://127.0.0.1:8001"
    order_url: str = "http://127.0.0.1:8002"
    member_url: str = "http://127.0.0.1:8003"
    activity_sweep_interval_s: float = 5.0
    # A group slot taken but not ordered is freed after this (an order keeps it until paid
    # or cancelled).
    group_join_hold_s: int = 900
    # Abandoned carts: a cart untouched for this long gets one coupon offer, at most one
    # per member per window; 0 turns the offers off.
    abandoned_cart_after_s: int = 86_400
    abandoned_cart_window_s: int = 7 * 86_400
    abandoned_cart_scan_interval_s: float = 300.0
    abandoned_cart_coupon_template_id: uuid.UUID | None = None  # the coupon template offered
    abandoned_cart_message_template_id: str | None = None  # WeChat subscription template
    abandoned_cart_message_page: str = "pages/cart/index"

    # --- flash sales (issue 9) ---
    # A sale's units are held at catalog and loaded into Redis this long before it starts.
    flash_sale_preload_s: int = 300
    # Purchase tokens: fetched from this long before the start, valid this long, signed
    # with this key (set it in production; every marketing replica needs the same one).
    flash_sale_token_lead_s: int = 120
    flash_sale_token_ttl_s: int = 60
    flash_sale_token_key: str = "minimall-dev-flash-sale-token-key"
    # Production: a Redis replica must acknowledge each purchase before 202 (WAIT), so a
    # failover loses no accepted ticket. 0 = no replica (development).
    flash_sale_redis_wait_replicas: int = 0
    flash_sale_redis_wait_ms: int = 50
    # The background loop (consumer process): loading, forwarding, repairs.
    flash_sale_loop_interval_s: float = 1.0
    flash_sale_reconcile_interval_s: float = 30.0
    # A ticket still queued after this is published again (a lost intent); an accepted
    # purchase that PostgreSQL has not recorded after this is an alert.
    flash_sale_requeue_after_s: float = 20.0
    # Later copies of a still-unanswered intent wait twice as long each time, up to this.
    flash_sale_requeue_max_s: float = 600.0
    # A sale is settled at catalog (unsold slots released) this long after its end plus
    # its payment window.
    flash_sale_settle_grace_s: int = 120
