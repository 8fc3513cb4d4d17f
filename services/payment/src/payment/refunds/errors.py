from shared.errors import Conflict


class RefundWithoutPayment(Conflict):
    """order.refund_requested for an order we hold no payment of (parked for staff)."""

    code = "refund_without_payment"
