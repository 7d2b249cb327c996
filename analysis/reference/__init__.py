"""Kept scripts that compute reference values once (R packages, simulations) and store them
as test data."""
