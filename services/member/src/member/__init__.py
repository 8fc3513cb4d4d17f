"""minimall member service."""
