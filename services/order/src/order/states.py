"""The order state machine: which status may follow which. Pure; no I/O.

    pending_payment → paid → shipped → completed
    pending_payment → cancelled
    paid | shipped | completed → refunding → refunded
    refunded → refunding          (a further partial refund of what is left)
    refunding → paid | shipped | completed   (a refund request rejected or withdrawn)

``creating`` and ``failed`` are internal to creation and never shown.
"""

from enum import StrEnum

from shared.errors import Conflict


class Status(StrEnum):
    CREATING = "creating"
    FAILED = "failed"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDING = "refunding"
    REFUNDED = "refunded"


PUBLIC = frozenset(Status) - {Status.CREATING, Status.FAILED}

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.CREATING: frozenset({Status.PENDING_PAYMENT, Status.FAILED}),
    Status.FAILED: frozenset(),
    Status.PENDING_PAYMENT: frozenset({Status.PAID, Status.CANCELLED}),
    Status.PAID: frozenset({Status.SHIPPED, Status.REFUNDING, Status.COMPLETED}),
    Status.SHIPPED: frozenset({Status.COMPLETED, Status.REFUNDING}),
    Status.COMPLETED: frozenset({Status.REFUNDING}),
    Status.CANCELLED: frozenset(),
    Status.REFUNDING: frozenset({Status.REFUNDED, Status.PAID, Status.SHIPPED, Status.COMPLETED}),
    Status.REFUNDED: frozenset({Status.REFUNDING}),
}


class IllegalTransition(Conflict):
    code = "illegal_transition"


def check(current: str, target: Status) -> None:
    """Raise ``IllegalTransition`` (409) unless ``current`` may become ``target``."""
    if target not in ALLOWED[Status(current)]:
        raise IllegalTransition(f"An order that is {current} cannot become {target}.")
