import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AfterSaleItemIn(BaseModel):
    sku_id: uuid.UUID
    quantity: int = Field(ge=1, le=99)


class AfterSaleIn(BaseModel):
    kind: Literal["refund_only", "return_refund"]
    items: list[AfterSaleItemIn] = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=1, max_length=500)


class DecisionIn(BaseModel):
    note: str = Field(default="", max_length=500)
    restock: bool | None = Field(
        default=None, description="put the goods back on sale (default: yes for return_refund)"
    )


class AfterSaleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    items: list[dict[str, Any]]
    amount_fen: int
    reason: str
    status: str
    decision_note: str | None
    created_at: datetime
    updated_at: datetime
