"""Settings of the payment service: environment variables prefixed ``PAYMENT_``.

WeChat Pay v3 (docs/wechatpay.md): the base URL is ``https://api.mch.weixin.qq.com`` in
production and the simulator locally; keys are given inline (PEM) or as file paths.
"""

from typing import Literal

from pydantic import SecretStr
from shared.settings import ServiceSettings, service_config


class PaymentSettings(ServiceSettings):
    model_config = service_config("PAYMENT_")

    service_name: str = "payment"
    http_port: int = 8005

    # -- WeChat Pay API v3 ------------------------------------------------------------------
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    wechatpay_mchid: str = ""
    # The mini-program bound to the mchid (prepay and wx.requestPayment's paySign use it).
    wechatpay_appid: str = ""
    # The merchant API private key (apiclient_key.pem): inline PEM, or a file path.
    wechatpay_merchant_private_key: SecretStr = SecretStr("")
    wechatpay_merchant_private_key_file: str = ""
    # The serial (hex) of the merchant API certificate (apiclient_cert.pem).
    wechatpay_merchant_serial: str = ""
    # The APIv3 key: 32 ASCII characters (AES-256-GCM of notifications and certificates).
    wechatpay_apiv3_key: SecretStr = SecretStr("")
    # Which key WeChat signs answers with: "public_key" (merchants onboarded since 2024-09,
    # requests carry Wechatpay-Serial: PUB_KEY_ID_…) or "certificate" (platform certificates).
    wechatpay_mode: Literal["public_key", "certificate"] = "public_key"
    # The WeChat Pay public key (wxp_pub.pem, SPKI PEM) and its id: inline PEM or a file path.
    wechatpay_public_key: str = ""
    wechatpay_public_key_file: str = ""
    wechatpay_public_key_id: str = ""
    # Platform certificates trusted from the start (a PEM bundle file), besides downloads.
    wechatpay_platform_certificates_file: str = ""
    # Download platform certificates (GET /v3/certificates) at first need and when an answer
    # names an unknown serial (at most once per interval). Off for public-key-only merchants.
    wechatpay_certificate_download: bool = True
    wechatpay_certificate_refresh_min_interval_s: float = 60.0
    wechatpay_timeout_s: float = 10.0
    wechatpay_connect_timeout_s: float = 3.0
    # Where WeChat sends payment and refund notifications (HTTPS, no query string).
    wechatpay_notify_url: str = ""
    wechatpay_refund_notify_url: str = ""

    # -- peers (typed clients; devstack and the tests set <SERVICE>_<OTHER>_URL) -------------
    order_url: str = "http://127.0.0.1:8002"
    # Member knows the shopper's openid (prepay needs it as the payer).
    member_url: str = "http://127.0.0.1:8003"

    # -- prepay -----------------------------------------------------------------------------
    # A stored prepay_id is reused while it has at least this long left (it lives 2 hours).
    prepay_reuse_margin_s: int = 300

    # -- the settler loop in ``python -m payment.consumer`` ---------------------------------
    settle_interval_s: float = 10.0
    # Payments still unknown this long after prepay are queried (lost notifications) …
    query_after_s: int = 300
    # … and queried again at most this often while they stay unknown.
    query_interval_s: int = 60
    # Refunds accepted by WeChat but unsettled this long are queried (lost notifications).
    refund_query_after_s: int = 120
    refund_query_interval_s: int = 60

    # -- reconciliation ---------------------------------------------------------------------
    # The daily run compares yesterday's bill (China time) once it is past this hour there
    # (WeChat publishes the bill after 10:00 the next day).
    reconcile_daily: bool = True
    reconcile_after_hour: int = 11
