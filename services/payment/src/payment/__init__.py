"""minimall payment service."""
