"""The data apps' one call upwards: "clinical data changed" (a signal).

A data change calls `data_changed(reason=..., patient_id=...)` inside its own transaction.
Apps above connect receivers that run in the same transaction, so what they write commits
or rolls back with the data: analysis marks its refit outbox and the caches. The privacy
rules have their own named event, `followup_closed(patient=..., reason=...)`, sent by
withdrawal, loss to follow-up and completion: reminders erase the address on it and
self-completion erases a withdrawn patient's link drafts. Data apps never import those apps
(they sit below them); nothing here touches the broker or waits for a fit.
"""
from django.dispatch import Signal

# Sent with `reason` (a short text for the model run's trigger, e.g. "A-001 baseline saved")
# and `patient_id` (the one patient changed; None for a bulk change such as an import).
clinical_data_changed = Signal()


def data_changed(*, reason: str, patient_id: int | None = None) -> None:
    """Tell the apps above that clinical data changed, in the caller's transaction."""
    clinical_data_changed.send(sender=None, reason=reason, patient_id=patient_id)


# Why a patient's follow-up closed (the `reason` of `followup_closed`).
WITHDRAWN, LOST, COMPLETED = "withdrawn", "lost", "completed"
FOLLOWUP_CLOSED_REASONS = (WITHDRAWN, LOST, COMPLETED)

# Sent with `patient` (the Patient, already saved) and `reason` (one of the above) by
# withdrawal, loss to follow-up and completion of the follow-up. A bulk import completing
# follow-ups does not send it (the reminders' hourly sweep catches those).
patient_followup_closed = Signal()


def followup_closed(*, patient, reason: str) -> None:
    """Tell the apps above that a patient's follow-up closed, in the caller's transaction."""
    if reason not in FOLLOWUP_CLOSED_REASONS:
        raise ValueError(f"reason: {reason!r} is not one of {FOLLOWUP_CLOSED_REASONS}")
    patient_followup_closed.send(sender=None, patient=patient, reason=reason)
