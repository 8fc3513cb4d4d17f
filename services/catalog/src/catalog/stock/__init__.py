"""Stock per SKU: reservations for orders (reserve, commit, release, expiry), adjustments by
staff and suppliers, the ledger, and the handlers of order events."""
