"""Settings base: every process reads UPPER_CASE environment variables with its own prefix.

A service declares ``class CatalogSettings(ServiceSettings)`` with
``model_config = service_config("CATALOG_")``; ``CATALOG_DATABASE_URL`` then fills
``database_url``.
"""

from pydantic_settings import BaseSettings, SettingsConfigDict


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)


class InfraSettings(BaseSettings):
    """What every process needs to reach PostgreSQL, Redis and Kafka, and to log."""

    model_config = service_config("MINIMALL_")

    service_name: str = "minimall"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/minimall"
    database_pool_size: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Apache Kafka in production: on. The embedded Tansu broker refuses InitProducerId: off.
    kafka_enable_idempotence: bool = True
    kafka_topic_partitions: int = 6
    kafka_topic_replication: int = 1
    log_level: str = "INFO"
    log_json: bool = True


class ServiceSettings(InfraSettings):
    """Settings of a service: infrastructure plus the HTTP edge."""

    http_host: str = "127.0.0.1"
    http_port: int = 8001
    # After SIGTERM: seconds the HTTP process keeps serving, unready, before it stops
    # listening (0 locally; the Helm chart sets a few, for load balancers to notice).
    shutdown_drain_s: float = 0.0
    # The port a worker process (consumer, relay) serves /metrics and /healthz on; 0 = none.
    worker_metrics_port: int = 0
    outbox_poll_interval_s: float = 0.2
    outbox_batch_size: int = 200
    outbox_retention_hours: int = 72
    consumer_max_attempts: int = 5
