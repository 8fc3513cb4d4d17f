from shared.errors import Conflict, NotFound, Unprocessable


class SelfReferral(Unprocessable):
    code = "self_referral"


class ReferralCycle(Conflict):
    code = "referral_cycle"


class ReferrerCodeInvalid(Unprocessable):
    code = "referrer_code_invalid"


class NothingToSettle(Conflict):
    code = "nothing_to_settle"


class RateNotFound(NotFound):
    code = "commission_rate_not_found"
