from shared.errors import Conflict, NotFound


class LevelNotFound(NotFound):
    code = "level_not_found"


class LevelConflict(Conflict):
    code = "level_conflict"
