"""Model runs and refit requests."""
