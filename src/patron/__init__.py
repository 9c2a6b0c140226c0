"""Patron: one help desk for customers and clients."""
