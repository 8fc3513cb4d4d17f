from shared.errors import AppError, NotFound


class MemberNotFound(NotFound):
    code = "member_not_found"


class MemberGone(AppError):
    """The token names a member that no longer exists (deleted account): log in again."""

    status_code = 401
    code = "member_gone"
