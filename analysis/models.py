"""Analysis-side records: study target, exports, interview sub-sample.

Model runs and refit requests are defined further down by the analysis engine.
"""
from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Patient


class StudyTarget(models.Model):
    """Inputs of the study's power calculation; one row, changed by a data manager.

    Defaults are the study's: standardised difference 0.40, power 0.95, two-sided alpha
    0.05, giving at least 84 completers.
    """

    standardised_difference = models.FloatField("standardised difference", default=0.40)
    power = models.FloatField("power", default=0.95)
    alpha = models.FloatField("two-sided alpha", default=0.05)
    updated_at = models.DateTimeField("last changed", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(standardised_difference__gt=0),
                                   name="target_difference_positive"),
            models.CheckConstraint(condition=models.Q(power__gt=0, power__lt=1),
                                   name="target_power_between_0_and_1"),
            models.CheckConstraint(condition=models.Q(alpha__gt=0, alpha__lt=1),
                                   name="target_alpha_between_0_and_1"),
        ]

    def __str__(self) -> str:
        return f"d={self.standardised_difference}, power={self.power}, alpha={self.alpha}"


class ExportLog(models.Model):
    """Every export: who, when, which file, with which options, how many rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+", verbose_name="user")
    created_at = models.DateTimeField("when", auto_now_add=True, db_index=True)
    file = models.CharField("file", max_length=100)
    options = models.JSONField("options", default=dict, blank=True)
    row_count = models.PositiveIntegerField("rows", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file} by {self.user} at {self.created_at:%Y-%m-%d %H:%M}"


class InterviewStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    INTERVIEWED = "interviewed", "Interviewed"
    DECLINED = "declined", "Declined"


class InterviewContact(models.Model):
    """The qualitative phase: invited, interviewed (when, how long, where) or declined."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="interview",
                                   verbose_name="patient")
    status = models.CharField("status", max_length=12, choices=InterviewStatus.choices,
                              default=InterviewStatus.INVITED)
    invited_on = models.DateField("invited on", null=True, blank=True)
    interviewed_on = models.DateField("interviewed on", null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField("duration (minutes)", null=True,
                                                        blank=True)
    place = models.CharField("place", max_length=100, blank=True,
                             help_text="e.g. clinic or home")
    notes = models.TextField("notes", blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, related_name="+", verbose_name="recorded by")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=InterviewStatus.values),
                                   name="interview_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Interview of {self.patient}: {self.get_status_display()}"
