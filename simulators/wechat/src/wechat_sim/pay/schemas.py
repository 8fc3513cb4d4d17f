"""Bodies WeChat Pay accepts (its field rules) and the sandbox calls' bodies."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OUT_TRADE_NO = r"^[0-9A-Za-z_\-*]{6,32}$"
OUT_REFUND_NO = r"^[0-9A-Za-z_\-|*@]{1,64}$"
Api = Literal[
    "prepay",
    "query",
    "close",
    "refund",
    "refund_query",
    "tradebill",
    "billdownload",
    "certificates",
]
# How an answer's signature is spoiled on purpose.
Spoiler = Literal[
    "signtest", "unknown_serial", "stale_timestamp", "tampered_body", "bad_signature", "unsigned"
]


class Amount(BaseModel):
    total: int = Field(gt=0)
    currency: Literal["CNY"] = "CNY"


class Payer(BaseModel):
    openid: str = Field(min_length=1, max_length=128)


class JsapiPrepayBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # detail, scene_info, settle_info, …

    appid: str = Field(min_length=1, max_length=32)
    mchid: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=127)
    out_trade_no: str = Field(pattern=OUT_TRADE_NO)
    time_expire: datetime | None = None
    attach: str | None = Field(default=None, max_length=128)
    notify_url: str = Field(min_length=1, max_length=255)
    goods_tag: str | None = Field(default=None, max_length=32)
    support_fapiao: bool | None = None
    amount: Amount
    payer: Payer


class CloseBody(BaseModel):
    mchid: str = Field(min_length=1, max_length=32)


class RefundAmountBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # from

    refund: int = Field(gt=0)
    total: int = Field(gt=0)
    currency: Literal["CNY"] = "CNY"


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # goods_detail

    transaction_id: str | None = Field(default=None, max_length=32)
    out_trade_no: str | None = Field(default=None, pattern=OUT_TRADE_NO)
    out_refund_no: str = Field(pattern=OUT_REFUND_NO)
    reason: str | None = Field(default=None, max_length=80)
    notify_url: str | None = Field(default=None, max_length=256)
    funds_account: Literal["AVAILABLE"] | None = None
    amount: RefundAmountBody


# -- sandbox ----------------------------------------------------------------------------------


class PayCreate(BaseModel):
    prepay_id: str
    # Test switch: what the payer paid (default: the order's total); a different amount
    # stands for a tampered order (the merchant must flag it).
    total: int | None = Field(default=None, gt=0)


class PayRead(BaseModel):
    out_trade_no: str
    transaction_id: str
    notification_id: str


class AnswerFaultCreate(BaseModel):
    kind: Spoiler | Literal["error"]
    api: Api | None = None
    times: int = Field(default=1, ge=1, le=1000)
    status: int = Field(default=500, ge=400, le=599)
    code: str = "SYSTEM_ERROR"
    message: str = "系统错误"


class PaySwitches(BaseModel):
    certificates_enabled: bool = True
    hold_refunds: bool = False
    notify_signer: Literal["auto", "certificate", "public_key"] = "auto"


class PaySwitchesUpdate(BaseModel):
    certificates_enabled: bool | None = None
    hold_refunds: bool | None = None
    notify_signer: Literal["auto", "certificate", "public_key"] | None = None


class DuplicatesCreate(BaseModel):
    copies: int = Field(default=2, ge=1, le=50)


class DeliveriesRead(BaseModel):
    statuses: list[int | None]


class ProbeCreate(BaseModel):
    notify_url: str


class RefundSettle(BaseModel):
    status: Literal["SUCCESS", "ABNORMAL", "CLOSED"] = "SUCCESS"


class AttemptRead(BaseModel):
    at: float
    kind: str
    status: int | None
    error: str | None


class NotificationRead(BaseModel):
    id: str
    event_type: str
    url: str
    out_trade_no: str
    out_refund_no: str | None
    serial: str
    delivered: bool
    gave_up: bool
    attempts: list[AttemptRead]


class CertificateRotated(BaseModel):
    serial_no: str
    serials: list[str]


class PayKeysRead(BaseModel):
    directory: str
    mchid: str
    appid: str
    merchant_serial: str
    public_key_id: str
    platform_serials: list[str]
