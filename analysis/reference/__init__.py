"""Kept scripts that compute reference values (R packages, simulations) for the tests."""
