"""Prometheus metrics of the kit: HTTP per route, outbox, consumers."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Events published by the relay", ["service"])
OUTBOX_FAILURES = Counter("outbox_publish_failures_total", "Failed publish attempts", ["service"])
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Messages behind the end of the partition",
    ["group", "topic", "partition"],
)
CONSUMER_HANDLED = Counter(
    "consumer_events_total", "Events seen by a consumer", ["group", "type", "outcome"]
)
