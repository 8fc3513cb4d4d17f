from shared.errors import Conflict, NotFound, Unprocessable


class CouponTemplateNotFound(NotFound):
    code = "coupon_template_not_found"


class CouponNotFound(NotFound):
    code = "coupon_not_found"


class CouponNotClaimable(Conflict):
    code = "coupon_not_claimable"


class CouponLimitReached(Conflict):
    code = "coupon_limit_reached"


class CouponSoldOut(Conflict):
    code = "coupon_sold_out"


class CouponUnavailable(Conflict):
    """The coupon is locked by another order, used, expired or revoked."""

    code = "coupon_unavailable"


class CouponNotApplicable(Unprocessable):
    code = "coupon_not_applicable"


class CouponTemplateInvalid(Unprocessable):
    code = "coupon_template_invalid"
