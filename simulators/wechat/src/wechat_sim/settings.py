"""Settings of the simulator: environment variables prefixed ``WECHAT_SIM_``."""

from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_APPID = "wx1234567890abcdef"
DEV_SECRET = "simulator-secret-0123456789abcdef"


class SimSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WECHAT_SIM_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8900
    # The one mini-program the simulator knows (the member service must use the same pair).
    appid: str = DEV_APPID
    secret: str = DEV_SECRET
    # The mini-program is bound to an Open Platform account, so sessions carry a unionid.
    open_platform_bound: bool = True
    # wx.login and phone codes: single use, valid 5 minutes.
    code_ttl_s: int = 300
    # jscode2session calls per user per minute before 45011.
    user_quota_per_minute: int = 100
    # stable_token: lifetime, and how early a new one is issued (old and new overlap).
    token_ttl_s: int = 7200
    token_renew_before_s: int = 300
    force_refresh_min_interval_s: int = 30
    force_refresh_per_day: int = 20

    # -- WeChat Pay (docs/wechatpay.md) ----------------------------------------------------
    # Where the dev keys live (merchant's and WeChat's, see wechat_sim.pay.keys); created when
    # missing. Empty: a new temporary directory at first use (GET /sandbox/pay/keys says which).
    pay_keys_dir: str = ""
    # Multiplies every WeChat Pay wait: notification retries (15 s … 6 h), refund settling.
    pay_time_scale: float = 1.0
    # Seconds (before scaling) until a refund leaves PROCESSING for SUCCESS.
    pay_refund_settle_s: float = 3.0
    # How long a notify_url may take to answer (WeChat: 5 s).
    pay_notify_timeout_s: float = 5.0
    # GET /v3/certificates serves the platform certificates (false: 403, public-key-only).
    pay_certificates_enabled: bool = True
    # How long a bill's download_url stays valid.
    pay_bill_url_ttl_s: int = 300
