from shared.errors import AppError, Conflict, NotFound


class StaffCredentialsInvalid(AppError):
    status_code = 401
    code = "staff_credentials_invalid"


class StaffLocked(AppError):
    status_code = 423
    code = "staff_locked"


class StaffNotFound(NotFound):
    code = "staff_not_found"


class StaffUsernameTaken(Conflict):
    code = "staff_username_taken"


class LastAdmin(Conflict):
    """The change would leave no active admin."""

    code = "last_admin"
