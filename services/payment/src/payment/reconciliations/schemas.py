import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class ReconciliationIn(BaseModel):
    date: date


class Difference(BaseModel):
    kind: Literal["missing_here", "missing_at_wechat", "amount_mismatch"]
    out_trade_no: str
    transaction_id: str | None = None
    wechat_fen: int | None = None
    our_fen: int | None = None


class ReconciliationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bill_date: date
    run_by: str
    status: Literal["matched", "differences"]
    wechat_count: int
    wechat_total_fen: int
    our_count: int
    our_total_fen: int
    differences: list[Difference]
    created_at: datetime
