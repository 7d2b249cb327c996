"""Kept scripts that compute reference values once and store them as test data."""
