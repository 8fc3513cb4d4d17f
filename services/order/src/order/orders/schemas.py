import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator


class ItemIn(BaseModel):
    sku_id: uuid.UUID
    quantity: int = Field(ge=1, le=99)


class ActivityIn(BaseModel):
    """A marketing activity pricing the checkout: a group-buy slot or a bargain (its id)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["group_buy", "bargain"]
    ref: uuid.UUID


class CheckoutIn(BaseModel):
    """The preview's and the order's input: never a price."""

    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(min_length=1, max_length=50)
    coupon_id: uuid.UUID | None = None
    points: int = Field(default=0, ge=0, le=10_000_000)
    address_id: uuid.UUID | None = None
    fulfilment: Literal["delivery", "pickup"] = "delivery"
    from_cart: bool = False
    # Group-buy or bargain price: one item, quantity 1, no coupon, no promotions.
    activity: ActivityIn | None = None

    @model_validator(mode="after")
    def _distinct_skus(self) -> "CheckoutIn":
        if len({i.sku_id for i in self.items}) != len(self.items):
            raise ValueError("each sku_id may appear once; add up the quantities")
        return self


class LineOut(BaseModel):
    sku_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    specs: dict[str, str]
    image_url: str | None
    unit_price_fen: int
    quantity: int
    amount_fen: int
    paid_fen: int


class DiscountOut(BaseModel):
    kind: str
    rule: str
    amount_fen: int


class CouponChoiceOut(BaseModel):
    coupon_id: uuid.UUID
    name: str
    discount_fen: int


class PreviewOut(BaseModel):
    lines: list[LineOut]
    goods_fen: int
    discounts: list[DiscountOut]
    points_used: int
    points_fen: int
    freight_fen: int
    freight_rule: str
    total_fen: int
    notes: list[str]
    coupon: CouponChoiceOut | None = None  # the coupon applied (coupon_id)
    suggested_coupon: CouponChoiceOut | None = None  # the member's best coupon for this order
    # Every coupon of the member that applies to this order, best first.
    usable_coupons: list[CouponChoiceOut] = []


class OrderItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    specs: dict[str, str]
    image_url: str | None
    quantity: int
    unit_price_fen: int
    paid_fen: int
    refunded_quantity: int


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: uuid.UUID = Field(validation_alias=AliasChoices("id", "order_id"))
    status: str
    goods_fen: int
    discount_fen: int
    points_used: int
    points_fen: int
    freight_fen: int
    total_fen: int
    refunded_fen: int
    fulfilment: str
    address: dict[str, Any] | None
    pickup_code: str | None = None
    invoice: dict[str, Any] | None
    carrier: str | None
    tracking_no: str | None
    under_review: bool = False
    pay_deadline_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    items: list[OrderItemOut] = []


class OrderSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: uuid.UUID = Field(validation_alias=AliasChoices("id", "order_id"))
    status: str
    total_fen: int
    created_at: datetime
    pay_deadline_at: datetime


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


class StaffOrderOut(OrderOut):
    member_id: uuid.UUID
    transaction_id: str | None
    review_reason: str | None
    transitions: list[TransitionOut] = []


class InternalOrderOut(BaseModel):
    order_id: uuid.UUID
    member_id: uuid.UUID
    status: str
    total_fen: int
    pay_deadline_at: datetime
    description: str
    items: list[dict[str, Any]]


class ShipIn(BaseModel):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_no: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class PickupIn(BaseModel):
    pickup_code: str = Field(min_length=6, max_length=12)


class InvoiceIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    tax_id: str | None = Field(default=None, pattern=r"^[0-9A-Z]{15,20}$")
    email: str | None = Field(default=None, max_length=100, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CancelIn(BaseModel):
    reason: str = Field(default="cancelled by the member", max_length=200)
