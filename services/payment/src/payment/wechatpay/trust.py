"""The keys WeChat Pay answers can be verified with, chosen by ``Wechatpay-Serial``.

- The serial equals the configured ``PUB_KEY_ID_…``: the WeChat Pay public key.
- Otherwise the platform certificate with that serial. Every valid certificate is kept
  (old and new overlap during a rotation).
- An unknown serial triggers one certificate download (single flight, at most once per
  ``min_interval_s``), then the lookup fails.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import Certificate
from shared.logging import get_logger

from payment.wechatpay.crypto import certificate_public_key, certificate_serial

log = get_logger(__name__)


@dataclass(frozen=True)
class PlatformCertificate:
    serial_no: str
    certificate: Certificate
    effective_time: datetime
    expire_time: datetime

    @classmethod
    def of(cls, certificate: Certificate) -> "PlatformCertificate":
        return cls(
            serial_no=certificate_serial(certificate),
            certificate=certificate,
            effective_time=certificate.not_valid_before_utc,
            expire_time=certificate.not_valid_after_utc,
        )

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return certificate_public_key(self.certificate)


Refresher = Callable[[], Awaitable[Sequence[PlatformCertificate]]]


class TrustStore:
    def __init__(
        self,
        *,
        public_key: rsa.RSAPublicKey | None = None,
        public_key_id: str = "",
        certificates: Iterable[Certificate] = (),
        refresher: Refresher | None = None,
        min_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.public_key = public_key
        self.public_key_id = public_key_id
        self._certificates: dict[str, PlatformCertificate] = {}
        self._refresher = refresher
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last_refresh: float | None = None
        self.refreshes = 0
        self.add(PlatformCertificate.of(c) for c in certificates)

    def set_refresher(self, refresher: Refresher | None) -> None:
        self._refresher = refresher

    def add(self, certificates: Iterable[PlatformCertificate]) -> None:
        now = datetime.now(UTC)
        for cert in certificates:
            if cert.expire_time > now:
                self._certificates[cert.serial_no.upper()] = cert
        self._certificates = {s: c for s, c in self._certificates.items() if c.expire_time > now}

    @property
    def certificates(self) -> list[PlatformCertificate]:
        return sorted(self._certificates.values(), key=lambda c: c.effective_time)

    def newest_serial(self) -> str | None:
        """The serial of the newest valid certificate (what certificate-mode requests name)."""
        now = datetime.now(UTC)
        usable = [c for c in self.certificates if c.effective_time <= now]
        return usable[-1].serial_no if usable else None

    def known_key(self, serial: str) -> rsa.RSAPublicKey | None:
        if self.public_key is not None and serial == self.public_key_id:
            return self.public_key
        cert = self._certificates.get(serial.upper())
        return cert.public_key if cert is not None else None

    async def key_for(self, serial: str) -> rsa.RSAPublicKey | None:
        key = self.known_key(serial)
        if key is None and self._refresher is not None:
            await self.refresh(unless_known=serial)
            key = self.known_key(serial)
        return key

    async def refresh(self, *, unless_known: str | None = None, force: bool = False) -> bool:
        """Download the certificates once (concurrent callers wait for the same download).
        Returns whether a download happened; failures are logged, never raised."""
        if self._refresher is None:
            return False
        async with self._lock:
            if unless_known is not None and self.known_key(unless_known) is not None:
                return False  # another caller's download brought it
            now = self._clock()
            recent = (
                self._last_refresh is not None and now - self._last_refresh < self._min_interval_s
            )
            if recent and not force:
                log.info("wechatpay.certificates_refresh_skipped", serial=unless_known)
                return False
            self._last_refresh = now
            self.refreshes += 1
            try:
                downloaded = await self._refresher()
            except Exception as exc:  # a failed download must not hide the original problem
                log.warning("wechatpay.certificates_refresh_failed", error=repr(exc)[:300])
                return False
            self.add(downloaded)
            log.info(
                "wechatpay.certificates_refreshed",
                serials=[c.serial_no for c in downloaded],
                wanted=unless_known,
            )
            return True
