from shared.errors import NotFound, Unprocessable


class PromotionNotFound(NotFound):
    code = "promotion_not_found"


class PromotionInvalid(Unprocessable):
    code = "promotion_invalid"
