from shared.errors import Conflict, NotFound, Unprocessable


class ActivityNotFound(NotFound):
    code = "activity_not_found"


class ActivityNotRunning(Conflict):
    code = "activity_not_running"


class GroupNotFound(NotFound):
    code = "group_not_found"


class GroupNotOpen(Conflict):
    code = "group_not_open"


class GroupFull(Conflict):
    code = "group_full"


class AlreadyInGroup(Conflict):
    code = "already_in_group"


class SkuNotOnSale(Unprocessable):
    code = "sku_unavailable"


class ActivityPriceInvalid(Unprocessable):
    """The activity reference cannot price this checkout (not the member's, closed, other
    SKU, quantity other than 1)."""

    code = "activity_not_applicable"


class ActivityInUse(Conflict):
    code = "activity_in_use"
