"""minimall catalog service."""
