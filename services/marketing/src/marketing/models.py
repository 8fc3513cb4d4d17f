"""Tables of the marketing service (its own database). Kit tables live in ``shared``."""

from shared.db import new_metadata
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = new_metadata()


# --- coupons and promotions (issue 8) ---


# --- group-buy, bargain, referral, abandoned cart (issue 8) ---


# --- flash sales (issue 9) ---
