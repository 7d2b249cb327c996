"""Patients (pseudonymous), consent, withdrawal and follow-up status.

No names, dates of birth or NHS numbers are stored anywhere: a patient is a study ID.
Consent is part of the patient row (its fields are required), so the database cannot
hold a patient, and therefore an administration, without a recorded consent.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from clinics.models import Clinic

from .characteristics import (  # noqa: F401  (Gender, Ethnicity, Education: re-exported)
    AGE,
    CHARACTERISTICS,
    EDUCATION,
    ETHNICITY,
    GENDER,
    PAIN_SITES,
    PAIN_YEARS,
    Education,
    Ethnicity,
    Gender,
)
from .validators import study_id_validator


class FollowUpStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    LOST = "lost", "Lost to follow-up"


class LostReason(models.TextChoices):
    DID_NOT_ATTEND = "did_not_attend", "Did not attend"
    DISCHARGED = "discharged", "Discharged"
    WITHDREW = "withdrew", "Withdrew"


class Patient(models.Model):
    """A consented cohort member, known only by a pseudonymous study ID."""

    study_id = models.CharField("study ID", max_length=20, unique=True,
                                validators=[study_id_validator],
                                help_text="Pseudonymous ID, unique in the study, e.g. A-017.")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients",
                               verbose_name="clinic")
    # Consent comes first: these fields are required.
    consented_on = models.DateField("consent date")
    consent_form_version = models.CharField("consent form version", max_length=20)
    consent_taken_by = models.CharField("consent taken by", max_length=150,
                                        help_text="Name or role of the staff member.")
    # Baseline characteristics, from the clinical record (patients.characteristics).
    age = models.PositiveSmallIntegerField(AGE.label, null=True, blank=True,
                                           validators=AGE.validators())
    gender = models.CharField(GENDER.label, max_length=10, choices=GENDER.choices, blank=True)
    ethnicity = models.CharField(ETHNICITY.label, max_length=20, choices=ETHNICITY.choices,
                                 blank=True)
    education = models.CharField(EDUCATION.label, max_length=20, choices=EDUCATION.choices,
                                 blank=True)
    pain_years = models.PositiveSmallIntegerField(PAIN_YEARS.label, null=True, blank=True,
                                                  validators=PAIN_YEARS.validators())
    pain_sites = models.PositiveSmallIntegerField(PAIN_SITES.label, null=True, blank=True,
                                                  validators=PAIN_SITES.validators())
    followup_status = models.CharField("follow-up status", max_length=10,
                                       choices=FollowUpStatus.choices,
                                       default=FollowUpStatus.ACTIVE)
    lost_reason = models.CharField("reason lost to follow-up", max_length=20,
                                   choices=LostReason.choices, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name="created by")
    enrolment_key = models.UUIDField(
        "enrolment form key", null=True, blank=True, unique=True, editable=False,
        help_text="One-time key of the enrolment form that created the patient, so that a "
                  "repeated submission (a double click) creates no second patient.")
    # Sign-off (patients.signoff): a signed-off record refuses every change until a data
    # manager unlocks it with a reason; both steps are in this row's history.
    signed_off_at = models.DateTimeField(
        "signed off", null=True, blank=True, editable=False,
        help_text="When a data manager signed the record off; empty while it is open.")
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                      null=True, blank=True, related_name="+",
                                      editable=False, verbose_name="signed off by")
    history = HistoricalRecords()

    class Meta:
        ordering = ["study_id"]
        indexes = [models.Index(fields=["clinic", "study_id"])]
        constraints = [
            *(characteristic.check_constraint() for characteristic in CHARACTERISTICS),
            models.CheckConstraint(
                condition=(Q(followup_status=FollowUpStatus.LOST) & ~Q(lost_reason=""))
                | (~Q(followup_status=FollowUpStatus.LOST) & Q(lost_reason="")),
                name="patient_lost_reason_iff_lost"),
            models.CheckConstraint(condition=~Q(consent_form_version=""),
                                   name="patient_consent_form_version_given"),
        ]

    def __str__(self) -> str:
        return self.study_id

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None


class Withdrawal(models.Model):
    """A patient's withdrawal of consent, and whether data already collected stays."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="withdrawal",
                                   verbose_name="patient")
    withdrawn_on = models.DateField("withdrawal date")
    reason = models.TextField("reason", blank=True)
    keep_collected_data = models.BooleanField(
        "keep data already collected in the analysis", default=True,
        help_text="If unticked, the patient's administrations are left out of every analysis "
                  "and export.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, related_name="+", verbose_name="recorded by")
    recorded_at = models.DateTimeField("recorded", auto_now_add=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Withdrawal of {self.patient}"


class PatientAccessLog(models.Model):
    """Every view of a patient's record: who, when, which patient (for the audit trail)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+", verbose_name="user")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="access_log",
                                verbose_name="patient")
    viewed_at = models.DateTimeField("viewed at", auto_now_add=True, db_index=True)
    path = models.CharField("page", max_length=300)

    class Meta:
        ordering = ["-viewed_at"]

    def __str__(self) -> str:
        return f"{self.user} viewed {self.patient} at {self.viewed_at:%Y-%m-%d %H:%M}"
