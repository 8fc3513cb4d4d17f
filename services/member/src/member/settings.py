"""Settings of the member service: environment variables prefixed ``MEMBER_``.

The signing key and the data key have development defaults so that ``make run`` and the
tests work out of the box; production must set ``MEMBER_JWT_SIGNING_KEY`` and
``MEMBER_DATA_KEY`` (the service logs ``member.dev_keys_in_use`` when it runs on them).
"""

from pydantic import AliasChoices, Field
from shared.settings import ServiceSettings, service_config

# Development-only secrets (public in this repository). Never use them in production.
DEV_JWT_SIGNING_KEY = "SFEJiCNR86Fptr1njQ2ruQyXAvyOjzCXEr6aTygHb2M"
DEV_DATA_KEY = "sLTEWoGSJmO6gb4hYaIVU8cr1+pG6BqJcjOpI2yuU5A="


class MemberSettings(ServiceSettings):
    model_config = service_config("MEMBER_")

    service_name: str = "member"
    http_port: int = 8003

    # WeChat mini-program API (api.weixin.qq.com in production, the simulator locally).
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_timeout_s: float = 5.0
    # The cached access token is refreshed this long before it expires.
    wechat_token_refresh_margin_s: int = 300

    # Tokens (docs/auth.md). The signing key is a base64url Ed25519 private key (32 bytes);
    # previous public keys (base64url, 32 bytes) stay in the JWKS during a rotation.
    jwt_signing_key: str = DEV_JWT_SIGNING_KEY
    jwt_previous_public_keys: tuple[str, ...] = ()
    jwt_issuer: str = "minimall-member"
    member_audience: str = "minimall-api"
    staff_audience: str = "minimall-admin"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 86400
    staff_access_token_ttl_s: int = 900
    staff_refresh_token_ttl_s: int = 12 * 3600

    # AES-256-GCM key (base64, 32 bytes) for personal data at rest: phones, session keys.
    data_key: str = DEV_DATA_KEY

    # The first admin, created at startup (and by ``python -m member.seed``) if missing.
    admin_username: str = Field(
        default="admin", validation_alias=AliasChoices("MEMBER_ADMIN_USERNAME", "ADMIN_USERNAME")
    )
    admin_password: str = Field(
        default="", validation_alias=AliasChoices("MEMBER_ADMIN_PASSWORD", "ADMIN_PASSWORD")
    )
    staff_max_failed_logins: int = 5
    staff_lockout_s: int = 900

    max_addresses: int = 20
    # Points and growth earned per yuan paid on a completed order; points per daily sign-in.
    points_per_yuan: int = 1
    growth_per_yuan: int = 1
    sign_in_points: int = 5
    # Sign-in days follow the shop's calendar.
    timezone: str = "Asia/Shanghai"

    @property
    def uses_dev_keys(self) -> bool:
        return self.jwt_signing_key == DEV_JWT_SIGNING_KEY or self.data_key == DEV_DATA_KEY
