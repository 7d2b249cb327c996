"""What each front page shows, built from every app's selectors: the view passes the
result to its template as plain data, so a page's queries are all run here, none from
its template.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count
from django.urls import reverse

from clinics.models import Clinic
from clinics.selectors import can_edit_clinical_data
from core.permissions import CAN_MANAGE, has_capability
from dataqueries.models import QueryStatus
from dataqueries.selectors import (
    may_raise_queries,
    may_view_queries,
    open_query_counts_by_study_id,
    queries_for_patient,
)
from patients.models import FollowUpStatus, Patient
from patients.selectors import SignOffState, sign_off_state, withdrawal_or_none
from patients.worklist import STATUSES, WorklistRow
from questionnaires.history import patient_history
from questionnaires.summary import administration_panels, patient_status
from questionnaires.verification_models import (
    UNVERIFIED_STATUSES,
    KeyingStatus,
    KeyingVerification,
)
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


@dataclass(frozen=True)
class WorklistLine:
    """One row of the worklist page: the patient's row and what other apps say of it."""

    row: WorklistRow
    outreach: Outreach | None
    open_queries: int   # awaiting the clinic's answer (0 for those who see no queries)
    signed_off: bool


def worklist_lines(*, clinic: Clinic, rows: list[WorklistRow], show_queries: bool
                   ) -> list[WorklistLine]:
    """The page's rows with their outreach (3 queries), open queries (1, when shown) and
    sign-off (1; none for an empty page), whatever the number of rows."""
    outreach = outreach_for(rows)
    open_queries = open_query_counts_by_study_id(clinic) if show_queries else {}
    signed_off = signed_off_study_ids(clinic=clinic, study_ids=[row.study_id for row in rows])
    return [WorklistLine(row=row, outreach=outreach.get(row.study_id),
                         open_queries=open_queries.get(row.study_id, 0),
                         signed_off=row.study_id in signed_off)
            for row in rows]


def signed_off_study_ids(*, clinic: Clinic, study_ids: list[str]) -> set[str]:
    """Which of the clinic's patients are signed off, by study ID (the worklist's key;
    patients.selectors.signed_off_ids takes ids). One query, none for no patients."""
    if not study_ids:
        return set()
    return set(Patient.objects.filter(clinic=clinic, study_id__in=study_ids,
                                      signed_off_at__isnull=False)
               .values_list("study_id", flat=True))


@dataclass(frozen=True)
class KeyingTasks:
    """The clinic's forms still unverified: awaiting a second keying, differences to settle."""

    awaiting: int
    discrepant: int

    @property
    def total(self) -> int:
        return self.awaiting + self.discrepant


def keying_tasks(clinic: Clinic) -> KeyingTasks:
    """How many of the clinic's forms await verification, by status. One query: counts
    only (questionnaires.verification_selectors.clinic_keying_tasks reads every row)."""
    counts = dict(KeyingVerification.objects
                  .filter(administration__patient__clinic=clinic,
                          status__in=UNVERIFIED_STATUSES)
                  .order_by().values_list("status").annotate(n=Count("pk")))
    return KeyingTasks(awaiting=counts.get(KeyingStatus.AWAITING, 0),
                       discrepant=counts.get(KeyingStatus.DISCREPANT, 0))


def worklist_page(*, user: AbstractBaseUser, clinic: Clinic, status: str, search: str,
                  sort: str, page_number: str | None) -> dict:
    """The worklist page: the clinic's rows (questionnaires), one page of them with their
    self-completion and reminders column (selfcompletion, reminders), open queries
    (dataqueries), sign-off (patients) and the clinic's forms awaiting verification."""
    sort = sort if sort in SORT_CODES else "urgency"  # a bad value falls back to urgency
    # the database pages: only this page's rows are read
    result = clinic_worklist(clinic=clinic, status=status, search=search, sort=sort,
                             page=page_number, page_size=WORKLIST_PAGE_SIZE)
    page = result.page
    can_edit = can_edit_clinical_data(user=user, clinic=clinic)
    show_queries = may_view_queries(user=user, clinic=clinic)
    return {
        "clinic": clinic, "worklist": result, "page": page, "statuses": STATUSES,
        "rows": worklist_lines(clinic=clinic, rows=list(page.object_list),
                               show_queries=show_queries),
        "status_counts": [(s, result.counts[s.code]) for s in STATUSES],
        "current_status": status, "search": search, "sorts": SORTS, "sort": sort,
        # carried by the filters, the search and the pager; the default order is left out
        "sort_query": "" if sort == "urgency" else f"sort={sort}&",
        "can_edit": can_edit,
        "show_queries": show_queries,
        # the list has no patient filter: the clinic's open queries, the patient's among them
        "open_queries_url": reverse("dataqueries:list") + "?" + urlencode(
            {"status": QueryStatus.OPEN, "clinic": clinic.code}),
        # keying_clinic is for those who may change the clinic's data
        "keying": keying_tasks(clinic) if can_edit else None,
        "can_sign_off": has_capability(user, CAN_MANAGE),
        # Reversed once, not once per row: a clinic may have a thousand patients.
        "patient_prefix": reverse("patients:detail", args=["X"]).removesuffix("X/"),
        "entry_prefix": reverse("questionnaires:entry",
                                args=["X", "baseline"]).removesuffix("X/baseline/"),
    }


def patient_record_page(*, user: AbstractBaseUser, patient: Patient) -> dict:
    """The patient record: consent and characteristics (patients), questionnaires, their
    verified keying and status (questionnaires), self-completion actions (selfcompletion),
    reminders panel, data queries (dataqueries) and sign-off (patients)."""
    withdrawal = withdrawal_or_none(patient)
    panels = with_keying(administration_panels(patient))
    status, dates = patient_status(patient, panels, withdrawn=withdrawal is not None)
    can_edit = can_edit_clinical_data(user=user, clinic=patient.clinic)
    return {
        "patient": patient, "panels": panels, "status": status, "dates": dates,
        "withdrawal": withdrawal, "can_edit": can_edit,
        "queries": queries_panel(user=user, patient=patient),
        "sign_off": record_sign_off_state(user=user, patient=patient),
        "can_sign_off": has_capability(user, CAN_MANAGE),
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


@dataclass(frozen=True)
class KeyingState:
    """A form's verified keying, as the record shows it."""

    status: str   # KeyingStatus
    label: str    # e.g. "Unverified: awaiting a second keying"
    action: str   # the page it leads to: "second_keying", "keying_differences"
    action_label: str


KEYING_ACTIONS = {
    KeyingStatus.AWAITING: ("second_keying", "Key it a second time"),
    KeyingStatus.DISCREPANT: ("keying_differences", "Settle the differences"),
    KeyingStatus.VERIFIED: ("keying_differences", "Compare the keyings"),
}


def with_keying(panels: list[dict]) -> list[dict]:
    """The questionnaire panels, each with "keying": its KeyingState, or None when the form
    was not chosen for a second keying. One query (none without a form); new dicts."""
    ids = [panel["administration"].pk for panel in panels if panel["administration"]]
    statuses = dict(KeyingVerification.objects.filter(administration_id__in=ids)
                    .values_list("administration_id", "status")) if ids else {}
    return [{**panel, "keying": _keying_state(statuses.get(
                panel["administration"].pk if panel["administration"] else None))}
            for panel in panels]


def _keying_state(status: str | None) -> KeyingState | None:
    if status is None:
        return None
    action, action_label = KEYING_ACTIONS[status]
    return KeyingState(status, KeyingStatus(status).label, action, action_label)


@dataclass(frozen=True)
class QueriesPanel:
    """The record's data queries, for those who may see them."""

    shown: bool
    queries: list      # dataqueries.models.Query, unclosed first
    raise_url: str     # the raise form with the patient filled in; "" if the user may not

    @property
    def unclosed(self) -> int:
        return sum(1 for query in self.queries if not query.is_closed)


def queries_panel(*, user: AbstractBaseUser, patient: Patient) -> QueriesPanel:
    """One query for the list (none for researchers and statisticians, who see none)."""
    if not may_view_queries(user=user, clinic=patient.clinic):
        return QueriesPanel(shown=False, queries=[], raise_url="")
    raise_url = ""
    if may_raise_queries(user=user):
        # query_raise prefills from study_id and comes back to the record through next
        record = reverse("patients:detail", args=[patient.study_id])
        raise_url = reverse("dataqueries:raise") + "?" + urlencode(
            {"study_id": patient.study_id, "next": record})
    return QueriesPanel(shown=True, queries=list(queries_for_patient(patient)),
                        raise_url=raise_url)


def record_sign_off_state(*, user: AbstractBaseUser, patient: Patient) -> SignOffState:
    """Who signed the record off and when; for a data manager, also what stops its sign-off
    (one query per registered blocker). Others are not asked about blockers: only a data
    manager signs off, and the check costs a query per blocker."""
    if patient.is_signed_off or has_capability(user, CAN_MANAGE):
        return sign_off_state(patient)
    return SignOffState(signed_off=False, signed_off_at=None, signed_off_by="", blockers=[])


def patient_history_page(*, patient: Patient) -> dict:
    return {"patient": patient, "rows": patient_history(patient=patient)}
