import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator


class QuoteLevel(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    discount_rate_bp: int = Field(gt=0, le=10_000)


class QuoteLineIn(BaseModel):
    sku_id: uuid.UUID
    quantity: int = Field(ge=1, le=999)
    unit_price_fen: int = Field(ge=0, le=100_000_000)


class QuoteIn(BaseModel):
    """What order sends: the lines at catalog's prices, the member and their level, and the
    coupon the member chose (if any)."""

    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID
    level: QuoteLevel | None = None
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=50)
    coupon_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _distinct(self) -> "QuoteIn":
        if len({line.sku_id for line in self.lines}) != len(self.lines):
            raise ValueError("each sku_id may appear once")
        return self


class AdjustmentOut(BaseModel):
    kind: str
    rule: str
    amount_fen: int
    source_id: str | None = None


class QuoteLineOut(BaseModel):
    sku_id: uuid.UUID
    quantity: int
    unit_price_fen: int  # catalog's
    promo_unit_price_fen: int  # after limited-time / member prices
    amount_fen: int
    discount_fen: int
    paid_fen: int  # after every promotion and the coupon
    adjustments: list[AdjustmentOut]


class CouponChoiceOut(BaseModel):
    coupon_id: uuid.UUID
    name: str
    discount_fen: int


class QuoteOut(BaseModel):
    lines: list[QuoteLineOut]
    goods_fen: int
    discounts: list[AdjustmentOut]
    discount_fen: int
    total_fen: int  # goods after promotions and coupon (order adds points and freight)
    coupon: CouponChoiceOut | None
    suggested_coupon: CouponChoiceOut | None
    usable_coupons: list[CouponChoiceOut]
