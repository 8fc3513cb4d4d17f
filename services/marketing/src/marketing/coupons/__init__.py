"""Coupons: templates, claiming, the member's wallet, locks for orders, expiry."""
