"""Product detail for shoppers, served from a two-level cache (in-process, then Redis)
invalidated on every instance by ``catalog.product_changed``."""
