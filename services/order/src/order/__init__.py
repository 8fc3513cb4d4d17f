"""minimall order service."""
