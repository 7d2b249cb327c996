"""Refit requests after changes to clinical data.

Placeholder until the analysis engine lands: callers already use this entry point, so
that the coalescing, broker-independent outbox can be added behind it.
"""


def refit_request_after_commit(*, reason: str) -> None:
    """Ask for a refit of the analysis once the current transaction commits."""
