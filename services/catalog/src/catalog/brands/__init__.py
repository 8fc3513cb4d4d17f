"""Brands: staff CRUD and a public list."""
