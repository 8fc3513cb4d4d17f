"""The request id of the work in progress, carried by HTTP headers and Kafka headers."""

import itertools
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


# A random prefix per process and a counter: unique without a system call per request.
_PREFIX = secrets.token_hex(8)
_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_PREFIX}{next(_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str | None) -> str:
    """Make ``request_id`` (or a new one) current for this task and its logs."""
    rid = request_id if request_id and _is_acceptable(request_id) else new_request_id()
    _request_id.set(rid)
    structlog.contextvars.bind_contextvars(request_id=rid)
    return rid


def _is_acceptable(value: str) -> bool:
    return 0 < len(value) <= 128 and value.isascii() and value.isprintable()


@contextmanager
def request_context(request_id: str | None) -> Iterator[str]:
    """Make ``request_id`` current inside the block only (a consumer handling one event)."""
    token = _request_id.set(None)
    previous = structlog.contextvars.get_contextvars().get("request_id")
    try:
        yield bind_request_id(request_id)
    finally:
        _request_id.reset(token)
        if previous is None:
            structlog.contextvars.unbind_contextvars("request_id")
        else:
            structlog.contextvars.bind_contextvars(request_id=previous)
