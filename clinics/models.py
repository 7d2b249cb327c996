"""Clinics, and users' memberships of them with a role."""
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

# The roles are defined with the role policy (core.permissions); re-exported here.
from core.permissions import STUDY_WIDE_ROLES, Role

__all__ = ["Clinic", "Membership", "Role"]

# The prefix of every study ID (patients.validators builds the study-ID rule on it): capital
# letters and digits only, so a code can neither break a study ID nor start a formula in a
# spreadsheet ("=1+1"). \Z, not $ (no final newline).
CLINIC_CODE_PATTERN = r"[A-Z0-9]{1,10}"
CLINIC_CODE_REGEX = rf"^{CLINIC_CODE_PATTERN}\Z"
clinic_code_validator = RegexValidator(
    CLINIC_CODE_REGEX, code="invalid_clinic_code",
    message="Use capital letters and digits only (up to 10), e.g. A or LEEDS2: the code "
            "starts every study ID of the clinic.")


class Clinic(models.Model):
    """A pain-management clinic recruiting into the cohort (the study's level 3)."""

    code = models.CharField(
        "code", max_length=10, unique=True, validators=[clinic_code_validator],
        help_text="Short code used in study IDs and the cohort CSV, e.g. A.")
    name = models.CharField("name", max_length=200)
    active = models.BooleanField("active", default=True,
                                 help_text="Inactive clinics recruit no new patients.")
    next_patient_number = models.PositiveIntegerField(
        "next patient number", default=1, editable=False,
        help_text="Counter behind generated study IDs (A-001, A-002, ...).")
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class Membership(models.Model):
    """A user's role at a clinic. A nurse may belong to several clinics."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships", verbose_name="user")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships",
                               verbose_name="clinic")
    role = models.CharField("role", max_length=20, choices=Role.choices)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="one_role_per_user_clinic"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values),
                                   name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        # A study-wide role holds at every clinic, whichever clinic carries it.
        where = "(all clinics)" if self.role in STUDY_WIDE_ROLES else f"at {self.clinic.code}"
        return f"{self.user} – {self.get_role_display()} {where}"
