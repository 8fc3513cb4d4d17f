"""Incoming notifications (payment and refund): verify the raw bytes, then decrypt.

For the notify endpoint: ``await parser.parse(request.headers, await request.body())``.
Any ``WeChatPayError`` it raises must be answered 4xx/5xx with
``{"code": "FAIL", "message": …}`` so that WeChat retries (a SIGNTEST probe included).
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from payment.wechatpay.crypto import DecryptionFailed, aes_gcm_decrypt
from payment.wechatpay.errors import WeChatPayDecryptionFailed, WeChatPayError
from payment.wechatpay.models import (
    EncryptedResource,
    NotificationEnvelope,
    RefundNotice,
    Transaction,
)
from payment.wechatpay.verifier import Verifier


class WeChatPayNotificationInvalid(WeChatPayError):
    """A verified notification we cannot read (not the documented envelope)."""

    status_code = 400
    code = "wechatpay_notification_invalid"


@dataclass(frozen=True)
class Notification:
    id: str
    create_time: datetime
    event_type: str
    resource_type: str
    summary: str | None
    original_type: str | None
    serial: str
    resource: dict[str, Any]

    def transaction(self) -> Transaction:
        """The resource of ``TRANSACTION.SUCCESS``."""
        try:
            return Transaction.model_validate(self.resource)
        except ValidationError as exc:
            raise WeChatPayNotificationInvalid(
                f"not a transaction: {exc.error_count()} errors"
            ) from None

    def refund(self) -> RefundNotice:
        """The resource of ``REFUND.SUCCESS`` / ``REFUND.ABNORMAL`` / ``REFUND.CLOSED``."""
        try:
            return RefundNotice.model_validate(self.resource)
        except ValidationError as exc:
            raise WeChatPayNotificationInvalid(
                f"not a refund: {exc.error_count()} errors"
            ) from None


def decrypt_resource(apiv3_key: bytes, resource: EncryptedResource) -> bytes:
    """An ``AEAD_AES_256_GCM`` resource (notification or certificate) → its plaintext."""
    try:
        return aes_gcm_decrypt(
            apiv3_key, resource.nonce, resource.ciphertext, resource.associated_data
        )
    except DecryptionFailed as exc:
        raise WeChatPayDecryptionFailed(
            "AES-GCM refused the resource (wrong APIv3 key, or altered data)."
        ) from exc


def decrypt_json(apiv3_key: bytes, resource: EncryptedResource) -> Any:
    try:
        return json.loads(decrypt_resource(apiv3_key, resource))
    except ValueError as exc:
        raise WeChatPayNotificationInvalid("the decrypted resource is not JSON") from exc


class NotificationParser:
    def __init__(self, verifier: Verifier, apiv3_key: bytes) -> None:
        self._verifier = verifier
        self._apiv3_key = apiv3_key

    async def parse(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes
    ) -> Notification:
        serial = await self._verifier.verify(headers, body)
        try:
            envelope = NotificationEnvelope.model_validate_json(body)
        except ValidationError as exc:
            raise WeChatPayNotificationInvalid(
                f"not a WeChat Pay notification: {exc.error_count()} errors"
            ) from None
        resource = decrypt_json(self._apiv3_key, envelope.resource)
        if not isinstance(resource, dict):
            raise WeChatPayNotificationInvalid("the decrypted resource is not an object")
        return Notification(
            id=envelope.id,
            create_time=envelope.create_time,
            event_type=envelope.event_type,
            resource_type=envelope.resource_type,
            summary=envelope.summary,
            original_type=envelope.resource.original_type,
            serial=serial,
            resource=resource,
        )
