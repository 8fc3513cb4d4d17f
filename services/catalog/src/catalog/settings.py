"""Settings of the catalog service: environment variables prefixed ``CATALOG_``."""

from shared.settings import ServiceSettings, service_config


class CatalogSettings(ServiceSettings):
    model_config = service_config("CATALOG_")

    service_name: str = "catalog"
    http_port: int = 8001

    # Reservations: the hold when the caller gives no ttl_s, and the longest allowed.
    reservation_default_ttl_s: int = 900
    reservation_max_ttl_s: int = 86_400
    # The expiry sweeper (in the consumer process): pause when idle, rows per transaction.
    reservation_sweep_interval_s: float = 1.0
    reservation_sweep_batch: int = 100
    # catalog.stock_low is published when a SKU's available stock falls below this.
    low_stock_threshold: int = 10

    # Product detail cache: in-process (L1) then Redis (L2), dropped on every instance by
    # catalog.product_changed. Stock shown on the detail is re-read after stock_cache_ttl_s.
    product_cache_l1_ttl_s: float = 60.0
    product_cache_l1_max: int = 10_000
    product_cache_l2_ttl_s: int = 600
    stock_cache_ttl_s: float = 1.0
    # Search answers kept in-process (0 turns the cache off).
    search_cache_ttl_s: float = 5.0
    search_cache_max: int = 4096
    # Search reads run on their own asyncpg pool (no pre-ping, no transaction): its size.
    search_pool_size: int = 8
    # The Redis pub/sub channel the consumer announces changed products on.
    invalidation_channel: str = "catalog:product-invalidations"
