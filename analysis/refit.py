"""Kept until the data apps call core.signals.data_changed directly (then delete)."""
from core.signals import data_changed as refit_request_after_commit  # noqa: F401
