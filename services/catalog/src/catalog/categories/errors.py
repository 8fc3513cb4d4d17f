from shared.errors import Conflict, NotFound, Unprocessable


class CategoryNotFound(NotFound):
    code = "category_not_found"


class CategoryCycle(Unprocessable):
    """The new parent is the category itself or one of its descendants."""

    code = "category_cycle"


class CategoryNotEmpty(Conflict):
    """It still has subcategories or products."""

    code = "category_not_empty"
