from shared.errors import Conflict, NotFound


class BrandNotFound(NotFound):
    code = "brand_not_found"


class BrandNameTaken(Conflict):
    code = "brand_name_taken"
