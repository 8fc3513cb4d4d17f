"""Our WeChat Pay API v3 client (docs/wechatpay.md): signing, verification, decryption,
typed calls and errors. The payment service makes one in its lifespan with
``create_wechatpay_client(settings)``; the notify endpoint uses ``client.notifications``."""

from payment.wechatpay.client import WeChatPayClient, create_wechatpay_client
from payment.wechatpay.config import WeChatPayConfig, config_from_settings
from payment.wechatpay.notifications import Notification, NotificationParser
from payment.wechatpay.verifier import Verifier

__all__ = [
    "Notification",
    "NotificationParser",
    "Verifier",
    "WeChatPayClient",
    "WeChatPayConfig",
    "config_from_settings",
    "create_wechatpay_client",
]
