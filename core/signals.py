"""The data apps' one call upwards: "clinical data changed" (a signal).

A data change calls `data_changed(reason=..., patient_id=...)` inside its own transaction.
Apps above connect receivers that run in the same transaction, so what they write commits
or rolls back with the data: analysis marks its refit outbox, reminders erase the address
of a patient whose follow-up has just closed. Data apps never import those apps (they sit
below them); nothing here touches the broker or waits for a fit.
"""
from django.dispatch import Signal

# Sent with `reason` (a short text for the model run's trigger, e.g. "A-001 baseline saved")
# and `patient_id` (the one patient changed; None for a bulk change such as an import).
clinical_data_changed = Signal()


def data_changed(*, reason: str, patient_id: int | None = None) -> None:
    """Tell the apps above that clinical data changed, in the caller's transaction."""
    clinical_data_changed.send(sender=None, reason=reason, patient_id=patient_id)
