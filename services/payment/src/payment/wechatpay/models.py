"""WeChat Pay v3 bodies as pydantic models (wechat-notes.md §3–§5). Money is integer fen.

Requests are validated before they leave (WeChat's own field rules); answers ignore fields
we do not know yet, so a new WeChat field never breaks us.
"""

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

CHINA = timezone(timedelta(hours=8))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return value


# RFC 3339 the way WeChat writes it: seconds, +08:00.
WeChatTime = Annotated[
    datetime,
    AfterValidator(_aware),
    PlainSerializer(lambda v: v.astimezone(CHINA).isoformat(timespec="seconds"), return_type=str),
]

OUT_TRADE_NO = r"^[0-9A-Za-z_\-*]{6,32}$"
OUT_REFUND_NO = r"^[0-9A-Za-z_\-|*@]{1,64}$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- JSAPI prepay ------------------------------------------------------------------------------


class PrepayAmount(_Request):
    total: int = Field(gt=0)
    currency: Literal["CNY"] = "CNY"


class Payer(_Request):
    openid: str = Field(min_length=1, max_length=128)


class GoodsDetail(_Request):
    merchant_goods_id: str = Field(min_length=1, max_length=32)
    wechatpay_goods_id: str | None = Field(default=None, max_length=32)
    goods_name: str | None = Field(default=None, max_length=256)
    quantity: int = Field(ge=1)
    unit_price: int = Field(ge=0)


class PrepayDetail(_Request):
    cost_price: int | None = None
    invoice_id: str | None = None
    goods_detail: list[GoodsDetail] | None = None


class SceneInfo(_Request):
    payer_client_ip: str
    device_id: str | None = None


class SettleInfo(_Request):
    profit_sharing: bool = False


class JsapiPrepay(_Request):
    """``POST /v3/pay/transactions/jsapi`` without appid and mchid (the client adds them)."""

    description: str = Field(min_length=1, max_length=127)
    out_trade_no: str = Field(pattern=OUT_TRADE_NO)
    notify_url: str = Field(min_length=1, max_length=255)
    amount: PrepayAmount
    payer: Payer
    time_expire: WeChatTime | None = None
    attach: str | None = Field(default=None, max_length=128)
    goods_tag: str | None = Field(default=None, max_length=32)
    support_fapiao: bool | None = None
    detail: PrepayDetail | None = None
    scene_info: SceneInfo | None = None
    settle_info: SettleInfo | None = None


class RequestPayment(BaseModel):
    """The fields ``wx.requestPayment`` takes (the mini-program passes no appId)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    time_stamp: str = Field(alias="timeStamp")
    nonce_str: str = Field(alias="nonceStr")
    package: str
    sign_type: Literal["RSA"] = Field(default="RSA", alias="signType")
    pay_sign: str = Field(alias="paySign")


# -- transactions (query answer and decrypted payment notification) -----------------------------

TradeState = Literal[
    "SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"
]


class TransactionAmount(_Answer):
    total: int | None = None
    payer_total: int | None = None
    currency: str | None = None
    payer_currency: str | None = None


class TransactionPayer(_Answer):
    openid: str | None = None


class Transaction(_Answer):
    appid: str
    mchid: str
    out_trade_no: str
    transaction_id: str | None = None
    trade_type: str | None = None
    trade_state: TradeState
    trade_state_desc: str | None = None
    bank_type: str | None = None
    attach: str | None = None
    success_time: datetime | None = None
    payer: TransactionPayer | None = None
    amount: TransactionAmount | None = None
    promotion_detail: list[dict[str, Any]] | None = None


# -- refunds ------------------------------------------------------------------------------------


class RefundFrom(_Request):
    account: Literal["AVAILABLE", "UNAVAILABLE"]
    amount: int = Field(ge=0)


class RefundRequestAmount(_Request):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    refund: int = Field(gt=0)
    total: int = Field(gt=0)
    currency: Literal["CNY"] = "CNY"
    from_: list[RefundFrom] | None = Field(default=None, alias="from")


class RefundGoodsDetail(_Request):
    merchant_goods_id: str
    wechatpay_goods_id: str | None = None
    goods_name: str | None = None
    unit_price: int = Field(ge=0)
    refund_amount: int = Field(ge=0)
    refund_quantity: int = Field(ge=1)


class RefundCreate(_Request):
    """``POST /v3/refund/domestic/refunds``: one of transaction_id / out_trade_no."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    out_refund_no: str = Field(pattern=OUT_REFUND_NO)
    amount: RefundRequestAmount
    transaction_id: str | None = None
    out_trade_no: str | None = Field(default=None, pattern=OUT_TRADE_NO)
    reason: str | None = Field(default=None, max_length=80)
    notify_url: str | None = Field(default=None, max_length=256)
    funds_account: Literal["AVAILABLE"] | None = None
    goods_detail: list[RefundGoodsDetail] | None = None

    @model_validator(mode="after")
    def _one_order_reference(self) -> "RefundCreate":
        if (self.transaction_id is None) == (self.out_trade_no is None):
            raise ValueError("give exactly one of transaction_id and out_trade_no")
        return self


RefundStatus = Literal["SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL"]


class RefundAmount(_Answer):
    total: int
    refund: int
    payer_total: int | None = None
    payer_refund: int | None = None
    settlement_refund: int | None = None
    settlement_total: int | None = None
    discount_refund: int | None = None
    currency: str | None = None


class Refund(_Answer):
    refund_id: str
    out_refund_no: str
    transaction_id: str
    out_trade_no: str
    channel: str | None = None
    user_received_account: str | None = None
    success_time: datetime | None = None
    create_time: datetime | None = None
    status: RefundStatus
    funds_account: str | None = None
    amount: RefundAmount
    promotion_detail: list[dict[str, Any]] | None = None


class RefundNotice(_Answer):
    """The decrypted resource of a ``REFUND.*`` notification."""

    mchid: str
    transaction_id: str
    out_trade_no: str
    refund_id: str
    out_refund_no: str
    refund_status: RefundStatus
    success_time: datetime | None = None
    user_received_account: str | None = None
    amount: RefundAmount


# -- bills and certificates ---------------------------------------------------------------------


class TradeBillLink(_Answer):
    hash_type: Literal["SHA1"]
    hash_value: str
    download_url: str


class EncryptedResource(_Answer):
    algorithm: Literal["AEAD_AES_256_GCM"]
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str | None = None


class CertificateEntry(_Answer):
    serial_no: str
    effective_time: datetime
    expire_time: datetime
    encrypt_certificate: EncryptedResource


class CertificateList(_Answer):
    data: list[CertificateEntry]


class NotificationEnvelope(_Answer):
    id: str
    create_time: datetime
    event_type: str
    resource_type: str
    summary: str | None = None
    resource: EncryptedResource
