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


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"


class Ethnicity(models.TextChoices):
    WHITE_BRITISH = "white_british", "White British"
    NON_BRITISH = "non_british", "Non-British"


class Education(models.TextChoices):
    NONE = "none", "No qualifications"
    BELOW_A_LEVEL = "below_a_level", "Below A level"
    A_LEVEL_OR_ABOVE = "a_level_or_above", "A level and above"


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
                                help_text="Pseudonymous ID, unique in the study, e.g. A-017.")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients",
                               verbose_name="clinic")
    # Consent comes first: these fields are required.
    consented_on = models.DateField("consent date")
    consent_form_version = models.CharField("consent form version", max_length=20)
    consent_taken_by = models.CharField("consent taken by", max_length=150,
                                        help_text="Name or role of the staff member.")
    # Baseline characteristics, from the clinical record.
    age = models.PositiveSmallIntegerField("age at baseline (years)", null=True, blank=True)
    gender = models.CharField("gender", max_length=10, choices=Gender.choices, blank=True)
    ethnicity = models.CharField("ethnicity", max_length=20, choices=Ethnicity.choices,
                                 blank=True)
    education = models.CharField("education", max_length=20, choices=Education.choices,
                                 blank=True)
    pain_years = models.PositiveSmallIntegerField("years of back pain", null=True, blank=True)
    pain_sites = models.PositiveSmallIntegerField("number of pain sites", null=True, blank=True)
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
    history = HistoricalRecords()

    class Meta:
        ordering = ["study_id"]
        indexes = [models.Index(fields=["clinic", "study_id"])]
        constraints = [
            models.CheckConstraint(condition=Q(age__isnull=True) | Q(age__gte=18, age__lte=110),
                                   name="patient_age_range"),
            models.CheckConstraint(
                condition=Q(pain_years__isnull=True) | Q(pain_years__lte=80),
                name="patient_pain_years_range"),
            models.CheckConstraint(
                condition=Q(pain_sites__isnull=True) | Q(pain_sites__gte=1, pain_sites__lte=20),
                name="patient_pain_sites_range"),
            models.CheckConstraint(condition=Q(gender__in=["", *Gender.values]),
                                   name="patient_gender_valid"),
            models.CheckConstraint(condition=Q(ethnicity__in=["", *Ethnicity.values]),
                                   name="patient_ethnicity_valid"),
            models.CheckConstraint(condition=Q(education__in=["", *Education.values]),
                                   name="patient_education_valid"),
            models.CheckConstraint(
                condition=(Q(followup_status=FollowUpStatus.LOST) & ~Q(lost_reason=""))
                | (~Q(followup_status=FollowUpStatus.LOST) & Q(lost_reason="")),
                name="patient_lost_reason_iff_lost"),
            models.CheckConstraint(condition=~Q(consent_form_version=""),
                                   name="patient_consent_form_version_given"),
        ]

    def __str__(self) -> str:
        return self.study_id


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
