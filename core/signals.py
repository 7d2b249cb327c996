"""The data apps' one call to the analysis: "clinical data changed" (a signal).

A data change calls `data_changed(reason=...)` inside its own transaction. The analysis
app connects a receiver that marks its refit outbox in the same transaction, so the mark
commits or rolls back with the data. Data apps never import the analysis (they sit below
it); nothing here touches the broker or waits for a fit.
"""
from django.dispatch import Signal

# Sent with `reason` (a short text for the model run's trigger, e.g. "A-001 baseline saved").
clinical_data_changed = Signal()


def data_changed(*, reason: str) -> None:
    """Tell the analysis that clinical data changed, in the caller's transaction."""
    clinical_data_changed.send(sender=None, reason=reason)
