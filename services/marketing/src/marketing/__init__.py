"""minimall marketing service."""
