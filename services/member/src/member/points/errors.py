from shared.errors import Conflict, NotFound


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class PointsHoldNotFound(NotFound):
    code = "points_hold_not_found"


class PointsHoldSettled(Conflict):
    """A hold was already committed (cannot release) or released (cannot commit)."""

    code = "points_hold_settled"


class AlreadySignedIn(Conflict):
    code = "already_signed_in"


class PointsConflict(Conflict):
    """The same reference was used with a different amount."""

    code = "points_conflict"
