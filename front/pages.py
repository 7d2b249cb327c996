"""What each front page shows, built from every app's selectors: the view passes the
result to its template as plain data, so a page's queries are all run here, none from
its template.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from clinics.models import Clinic
from clinics.selectors import can_edit_clinical_data
from patients.models import FollowUpStatus, Patient
from patients.selectors import withdrawal_or_none
from patients.worklist import STATUSES, WorklistRow
from questionnaires.history import patient_history
from questionnaires.summary import administration_panels, patient_status
from questionnaires.worklist import SORT_CODES, SORTS, clinic_worklist
from reminders.selectors import reminder_panel, reminder_states
from selfcompletion.selectors import invitation_states, latest_followup_link

# A page a nurse can scan; the status counts and filters at the top cover the whole clinic.
WORKLIST_PAGE_SIZE = 100


@dataclass(frozen=True)
class Outreach:
    """What a nurse needs to know about one patient's self-completion and reminders."""

    invitation: str = ""       # e.g. "Link: opened 5 Mar"
    awaiting_check: bool = False
    reminder: str = ""         # e.g. "Reminder sent 12 Mar (a week later)"
    reminder_failed: bool = False


def outreach_for(rows: Iterable[WorklistRow]) -> dict[str, Outreach]:
    """Study ID -> Outreach for the worklist rows given (patients with nothing: left out).
    Three queries whatever the number of rows; rows are matched by study ID (unique)."""
    study_ids = [row.study_id for row in rows]
    invitations = invitation_states(study_ids)
    reminders = reminder_states(study_ids)
    result = {}
    for study_id in study_ids:
        invitation, reminder = invitations.get(study_id), reminders.get(study_id)
        if invitation or reminder:
            result[study_id] = Outreach(
                invitation=invitation.text if invitation else "",
                awaiting_check=bool(invitation and invitation.awaiting_check),
                reminder=reminder.text if reminder else "",
                reminder_failed=bool(reminder and reminder.failed))
    return result


def worklist_page(*, user: AbstractBaseUser, clinic: Clinic, status: str, search: str,
                  sort: str, page_number: str | None) -> dict:
    """The worklist page: the clinic's rows (questionnaires), one page of them with their
    self-completion and reminders column (selfcompletion, reminders)."""
    sort = sort if sort in SORT_CODES else "urgency"  # a bad value falls back to urgency
    # the database pages: only this page's rows are read
    result = clinic_worklist(clinic=clinic, status=status, search=search, sort=sort,
                             page=page_number, page_size=WORKLIST_PAGE_SIZE)
    page = result.page
    outreach = outreach_for(page.object_list)
    return {
        "clinic": clinic, "worklist": result, "page": page, "statuses": STATUSES,
        "rows": [(row, outreach.get(row.study_id)) for row in page.object_list],
        "status_counts": [(s, result.counts[s.code]) for s in STATUSES],
        "current_status": status, "search": search, "sorts": SORTS, "sort": sort,
        # carried by the filters, the search and the pager; the default order is left out
        "sort_query": "" if sort == "urgency" else f"sort={sort}&",
        "can_edit": can_edit_clinical_data(user=user, clinic=clinic),
        # Reversed once, not once per row: a clinic may have a thousand patients.
        "patient_prefix": reverse("patients:detail", args=["X"]).removesuffix("X/"),
        "entry_prefix": reverse("questionnaires:entry",
                                args=["X", "baseline"]).removesuffix("X/baseline/"),
    }


def patient_record_page(*, user: AbstractBaseUser, patient: Patient) -> dict:
    """The patient record: consent and characteristics (patients), questionnaires and
    status (questionnaires), self-completion actions (selfcompletion), reminders panel."""
    withdrawal = withdrawal_or_none(patient)
    panels = administration_panels(patient)
    status, dates = patient_status(patient, panels, withdrawn=withdrawal is not None)
    can_edit = can_edit_clinical_data(user=user, clinic=patient.clinic)
    return {
        "patient": patient, "panels": panels, "status": status, "dates": dates,
        "withdrawal": withdrawal, "can_edit": can_edit,
        "can_mark_lost": patient.followup_status == FollowUpStatus.ACTIVE,
        "followup_link": _followup_link(patient, panels, can_edit=can_edit,
                                        withdrawn=withdrawal is not None),
        "reminders": reminder_panel(
            user=user, patient=patient,
            closed=withdrawal is not None or status.code == "completed"),
    }


def _followup_link(patient: Patient, panels: list[dict], *, can_edit: bool, withdrawn: bool):
    """The latest follow-up link, read only when the follow-up panel offers the home link
    (selfcompletion/_patient_actions.html's condition): no query on other records."""
    baseline, followup = (panel["administration"] for panel in panels)
    offered = (can_edit and not withdrawn and baseline is not None and baseline.is_complete
               and not (followup is not None and followup.is_complete))
    return latest_followup_link(patient) if offered else None


def patient_history_page(*, patient: Patient) -> dict:
    return {"patient": patient, "rows": patient_history(patient=patient)}
