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
