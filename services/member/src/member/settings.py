"""Settings of the member service: environment variables prefixed ``MEMBER_``."""

from shared.settings import ServiceSettings, service_config


class MemberSettings(ServiceSettings):
    model_config = service_config("MEMBER_")

    service_name: str = "member"
    http_port: int = 8003
