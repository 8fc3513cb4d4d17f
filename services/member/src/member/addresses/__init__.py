"""addresses."""
