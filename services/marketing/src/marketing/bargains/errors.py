from shared.errors import Conflict, NotFound


class BargainActivityNotFound(NotFound):
    code = "activity_not_found"


class BargainNotFound(NotFound):
    code = "bargain_not_found"


class BargainExists(Conflict):
    code = "bargain_exists"


class BargainClosed(Conflict):
    code = "bargain_closed"


class BargainAtFloor(Conflict):
    code = "bargain_at_floor"


class OwnBargain(Conflict):
    code = "own_bargain"


class AlreadyHelped(Conflict):
    code = "already_helped"
