"""Trade bills (wechat-notes.md §5): gunzip, SHA1 check, then the backtick-prefixed CSV.

Amounts in the file are yuan; rows here carry integer fen.
"""

import csv
import gzip
import hashlib
import hmac
import io
import zlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from payment.wechatpay.errors import WeChatPayBillInvalid

GZIP_MAGIC = b"\x1f\x8b"

# The ALL bill's columns, and the summary's (wechat-notes.md §5).
HEADER = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
SUMMARY_HEADER = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
]


def unpack(raw: bytes, hash_type: str, hash_value: str) -> bytes:
    """The bill's bytes, gunzipped when compressed, checked against WeChat's SHA1.

    The official sample hashes the decompressed file; the compressed bytes are accepted too.
    """
    if hash_type.upper() != "SHA1":
        raise WeChatPayBillInvalid(f"unsupported hash type {hash_type}")
    data = raw
    if raw[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise WeChatPayBillInvalid("the bill is not valid gzip") from exc
    expected = hash_value.lower()
    for candidate in (data, raw):
        if hmac.compare_digest(hashlib.sha1(candidate).hexdigest(), expected):
            return data
    raise WeChatPayBillInvalid("the bill does not match its SHA1")


def yuan_to_fen(value: str) -> int:
    try:
        fen = Decimal(value or "0") * 100
    except InvalidOperation as exc:
        raise WeChatPayBillInvalid(f"not an amount: {value!r}") from exc
    if fen != fen.to_integral_value():
        raise WeChatPayBillInvalid(f"not a whole number of fen: {value!r}")
    return int(fen)


@dataclass(frozen=True)
class TradeBillRow:
    trade_time: str
    appid: str
    mchid: str
    sub_mchid: str
    device_info: str
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    trade_state: str
    bank_type: str
    currency: str
    settlement_total_fen: int
    coupon_fen: int
    refund_id: str
    out_refund_no: str
    refund_fen: int
    coupon_refund_fen: int
    refund_type: str
    refund_status: str
    description: str
    attach: str
    fee_fen: int
    fee_rate: str
    total_fen: int
    requested_refund_fen: int
    fee_note: str


@dataclass(frozen=True)
class TradeBillSummary:
    trade_count: int
    settlement_total_fen: int
    refund_fen: int
    coupon_refund_fen: int
    fee_fen: int
    total_fen: int
    requested_refund_fen: int


@dataclass(frozen=True)
class TradeBill:
    rows: list[TradeBillRow]
    summary: TradeBillSummary


def _values(line: list[str]) -> list[str]:
    return [v.strip()[1:] if v.strip().startswith("`") else v.strip() for v in line]


def _row(v: list[str]) -> TradeBillRow:
    if len(v) < len(HEADER):
        raise WeChatPayBillInvalid(f"a bill row has {len(v)} columns, not {len(HEADER)}")
    fen = yuan_to_fen
    return TradeBillRow(
        trade_time=v[0],
        appid=v[1],
        mchid=v[2],
        sub_mchid=v[3],
        device_info=v[4],
        transaction_id=v[5],
        out_trade_no=v[6],
        openid=v[7],
        trade_type=v[8],
        trade_state=v[9],
        bank_type=v[10],
        currency=v[11],
        settlement_total_fen=fen(v[12]),
        coupon_fen=fen(v[13]),
        refund_id=v[14],
        out_refund_no=v[15],
        refund_fen=fen(v[16]),
        coupon_refund_fen=fen(v[17]),
        refund_type=v[18],
        refund_status=v[19],
        description=v[20],
        attach=v[21],
        fee_fen=fen(v[22]),
        fee_rate=v[23],
        total_fen=fen(v[24]),
        requested_refund_fen=fen(v[25]),
        fee_note=v[26],
    )


def _summary(v: list[str]) -> TradeBillSummary:
    if len(v) < len(SUMMARY_HEADER):
        raise WeChatPayBillInvalid("the bill summary is incomplete")
    try:
        count = int(v[0])
    except ValueError as exc:
        raise WeChatPayBillInvalid(f"not a count: {v[0]!r}") from exc
    return TradeBillSummary(
        trade_count=count,
        settlement_total_fen=yuan_to_fen(v[1]),
        refund_fen=yuan_to_fen(v[2]),
        coupon_refund_fen=yuan_to_fen(v[3]),
        fee_fen=yuan_to_fen(v[4]),
        total_fen=yuan_to_fen(v[5]),
        requested_refund_fen=yuan_to_fen(v[6]),
    )


def parse_trade_bill(data: bytes) -> TradeBill:
    """Parse an ``ALL`` (or ``SUCCESS``/``REFUND``) trade bill."""
    text = data.decode("utf-8-sig")
    lines = [line for line in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in line)]
    if not lines or [c.strip() for c in lines[0]][: len(HEADER)] != HEADER:
        raise WeChatPayBillInvalid("the bill does not start with the trade bill header")
    split = next((i for i, line in enumerate(lines) if line[0].strip() == "总交易单数"), None)
    if split is None or split + 1 >= len(lines):
        raise WeChatPayBillInvalid("the bill has no summary")
    rows = [_row(_values(line)) for line in lines[1:split]]
    return TradeBill(rows=rows, summary=_summary(_values(lines[split + 1])))
