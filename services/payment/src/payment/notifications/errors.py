"""Why a WeChat Pay notification is refused. Not ``AppError``s: WeChat reads only the status
and expects ``{"code": "FAIL", "message": …}`` (its shape, not ours)."""


class NotificationRefused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
