"""Verified keying of paper forms: the study's setting, each selected form's second
(blind) keying, and the fields where the two keyings differ.

Single keying of paper questionnaires errs in roughly 0.1-1 % of fields; REDCap's double
data entry and OpenClinica's source data verification exist for this. A form chosen by the
setting waits, "unverified", until another user of its clinic keys it again without seeing
the first keying; the fields that differ are settled against the paper, with a reason,
through the correction path (questionnaires.services.administration_save).

Imported at the end of questionnaires/models.py, so that Django finds the models.
"""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class KeyingMode(models.TextChoices):
    OFF = "off", "Off: every form is keyed once"
    FRACTION = "fraction", "A random fraction of the nurse-keyed forms"
    ALL = "all", "Every nurse-keyed form"


class KeyingSetting(models.Model):
    """The study's verified-keying rule (one row; settings.VERIFIED_KEYING_* until saved)."""

    mode = models.CharField("verified keying", max_length=10, choices=KeyingMode.choices,
                            default=KeyingMode.OFF)
    fraction = models.FloatField(
        "fraction of forms", default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Between 0 and 1, e.g. 0.1 for one form in ten (used by the random "
                  "fraction only).")
    seed = models.CharField(
        "selection seed", max_length=50, default="paincohort",
        help_text="With the form's id it decides, reproducibly, whether a form is chosen.")
    updated_at = models.DateTimeField("last changed", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name="last changed by")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=KeyingMode.values),
                                   name="keying_setting_mode_valid"),
            models.CheckConstraint(condition=Q(fraction__gte=0) & Q(fraction__lte=1),
                                   name="keying_setting_fraction_0_1"),
        ]

    def __str__(self) -> str:
        return self.get_mode_display()


class KeyingStatus(models.TextChoices):
    AWAITING = "awaiting", "Unverified: awaiting a second keying"
    DISCREPANT = "discrepant", "Unverified: differences to settle against the paper"
    VERIFIED = "verified", "Verified by a second keying"


UNVERIFIED_STATUSES = (KeyingStatus.AWAITING, KeyingStatus.DISCREPANT)


class KeyingVerification(models.Model):
    """A nurse-keyed form chosen for a second keying, and how that went."""

    administration = models.OneToOneField(
        "questionnaires.Administration", on_delete=models.CASCADE, related_name="keying",
        verbose_name="administration")
    status = models.CharField("status", max_length=10, choices=KeyingStatus.choices,
                              default=KeyingStatus.AWAITING)
    rule = models.CharField("chosen by", max_length=100,
                            help_text="The setting that chose the form, e.g. 'fraction 0.1, "
                                      "seed paincohort'.")
    first_keyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, related_name="+", verbose_name="first keyer")
    selected_at = models.DateTimeField("chosen", auto_now_add=True)
    second_keyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+",
                                     verbose_name="second keyer")
    second_keyed_at = models.DateTimeField("second keying", null=True, blank=True)
    # field -> value as keyed the second time ("" = not answered), kept for the audit trail
    second_values = models.JSONField("second keying's values", default=dict, blank=True)
    fields_compared = models.PositiveSmallIntegerField("fields compared", null=True,
                                                       blank=True)
    verified_at = models.DateTimeField("verified", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["selected_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=KeyingStatus.values),
                                   name="keying_verification_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Keying of {self.administration}: {self.get_status_display()}"

    @property
    def is_verified(self) -> bool:
        return self.status == KeyingStatus.VERIFIED


class Settled(models.TextChoices):
    FIRST = "first", "The first keying is right"
    SECOND = "second", "The second keying is right"


class KeyingDiscrepancy(models.Model):
    """A field the two keyings differ on, and how it was settled against the paper."""

    verification = models.ForeignKey(KeyingVerification, on_delete=models.CASCADE,
                                     related_name="discrepancies", verbose_name="verification")
    field = models.CharField("field", max_length=40)
    first_value = models.CharField("first keying", max_length=20, blank=True)
    second_value = models.CharField("second keying", max_length=20, blank=True)
    settled = models.CharField("settled as", max_length=10, choices=Settled.choices,
                               blank=True)
    settled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name="settled by")
    settled_at = models.DateTimeField("settled", null=True, blank=True)
    reason = models.CharField("reason", max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["verification", "id"]
        constraints = [
            models.UniqueConstraint(fields=["verification", "field"],
                                    name="one_discrepancy_per_field"),
            models.CheckConstraint(condition=Q(settled="") | Q(settled__in=Settled.values),
                                   name="keying_discrepancy_settled_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.first_value!r} / {self.second_value!r}"

    @property
    def settled_value(self) -> str | None:
        if not self.settled:
            return None
        return self.first_value if self.settled == Settled.FIRST else self.second_value
