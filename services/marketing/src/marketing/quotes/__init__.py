"""Quotes: the pricing engine over the live promotions and the member's coupons, for order."""
