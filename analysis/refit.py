"""Refit requests after changes to clinical data (the entry point services call).

The request is written to the outbox row inside the caller's transaction, so it commits
or rolls back with the data change and survives a broker outage; after the commit one
coalesced task is sent, or, without a broker, the fit runs in this process (see
analysis/services.py). Nothing here can make the data change fail or wait for a fit.
"""
import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def refit_request_after_commit(*, reason: str) -> None:
    """Ask for a refit of the analysis once the current transaction commits.

    Call it as the last write of the transaction: it updates the one outbox row, whose
    lock is then held only until the commit, and always taken after every other lock
    (so concurrent data changes queue briefly there but cannot deadlock on it).
    """
    from .services import refit_record_change

    refit_record_change(reason=reason)
    transaction.on_commit(_dispatch_after_commit, robust=True)


def _dispatch_after_commit() -> None:
    from .services import refit_dispatch_pending

    try:
        refit_dispatch_pending()
    except Exception:  # the change is committed and counted; the sweep will send it
        logger.exception("Could not dispatch the refit; it stays pending in the outbox.")
