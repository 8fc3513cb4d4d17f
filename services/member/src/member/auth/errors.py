from shared.errors import AppError


class RefreshTokenInvalid(AppError):
    status_code = 401
    code = "refresh_token_invalid"


class RefreshTokenReused(AppError):
    """A rotated refresh token came back: its family is revoked (it may have been stolen)."""

    status_code = 401
    code = "refresh_token_reused"
