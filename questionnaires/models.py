"""Administrations: one per patient and timepoint, holding raw item answers and scores.

The item and score columns are generated from the instrument definitions
(questionnaires/instruments.py), so a new item there is a new column here after a
migration. The database checks every item's range.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from patients.models import Patient

from .instruments import ITEMS, SCALES


class Timepoint(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    FOLLOWUP = "followup", "3-month follow-up"


class AdministrationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    COMPLETE = "complete", "Complete"


class AdministrationSource(models.TextChoices):
    """Who filled in the answers: keyed by a nurse from paper, or by the patient."""

    NURSE = "nurse", "Keyed by a nurse"
    TABLET = "tablet", "Completed by the patient on a clinic tablet"
    LINK = "link", "Completed by the patient from a link"


class MissingReason(models.TextChoices):
    """Why an item of a sent questionnaire has no answer (the patient's own choice)."""

    NOT_ANSWERED = "not_answered", "Not answered"
    DECLINED = "declined", "Prefer not to answer"


class PihFormVersion(models.TextChoices):
    CURRENT = "current", "Current form (0 = worst, 8 = best)"
    REVERSED = "reversed", "Older form (0 = best, 8 = worst): scored as 8 - x"


def _item_field(item) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        item.label, null=True, blank=True,
        help_text=f"{item.code}: {item.minimum}-{item.maximum}; empty = not answered.")


def _score_fields(scale) -> dict[str, models.Field]:
    return {
        scale.code: models.FloatField(
            scale.label, null=True, blank=True, editable=False,
            help_text=f"{scale.rule} Computed on save; never typed in."),
        f"{scale.code}_n": models.PositiveSmallIntegerField(
            f"{scale.label}: items used", null=True, blank=True, editable=False),
    }


def _answer_fields() -> dict[str, models.Field]:
    fields: dict[str, models.Field] = {item.code: _item_field(item) for item in ITEMS}
    for scale in SCALES:
        fields.update(_score_fields(scale))
    return fields


def _item_range_constraints() -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(**{f"{item.code}__isnull": True})
            | Q(**{f"{item.code}__gte": item.minimum, f"{item.code}__lte": item.maximum}),
            name=f"administration_{item.code}_range")
        for item in ITEMS
    ]


# An abstract base built from the instrument definitions: every item and score column.
AnswersAndScores = type("AnswersAndScores", (models.Model,), {
    "__module__": __name__,
    "Meta": type("Meta", (), {"abstract": True}),
    **_answer_fields(),
})


class Administration(AnswersAndScores):
    """One completion of BPI, PPiC and PIH by a patient at a timepoint."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT,
                                related_name="administrations", verbose_name="patient")
    timepoint = models.CharField("timepoint", max_length=10, choices=Timepoint.choices)
    administered_on = models.DateField("date completed")
    status = models.CharField("status", max_length=10, choices=AdministrationStatus.choices,
                              default=AdministrationStatus.DRAFT)
    pih_form_version = models.CharField("PIH form version", max_length=10,
                                        choices=PihFormVersion.choices,
                                        default=PihFormVersion.CURRENT)
    scoring_version = models.CharField("scoring version", max_length=20, blank=True,
                                       editable=False)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name="entered by")
    source = models.CharField("source", max_length=10, choices=AdministrationSource.choices,
                              default=AdministrationSource.NURSE)
    # A patient-completed administration is checked by a nurse before it counts as keyed.
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name="checked by")
    checked_at = models.DateTimeField("checked", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("last changed", auto_now=True)
    # Item code -> MissingReason, for the items a patient left blank or declined (tablet
    # or link); the item's column stays empty. Nurse-keyed paper gives no reason.
    missing_reasons = models.JSONField("missing items and why", default=dict, blank=True,
                                       editable=False)
    # Optimistic locking: a save must name the version it was based on.
    version = models.PositiveIntegerField("version", default=1, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient__study_id", "timepoint"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "timepoint"],
                                    name="one_administration_per_patient_timepoint"),
            models.CheckConstraint(condition=Q(timepoint__in=Timepoint.values),
                                   name="administration_timepoint_valid"),
            models.CheckConstraint(condition=Q(status__in=AdministrationStatus.values),
                                   name="administration_status_valid"),
            models.CheckConstraint(condition=Q(source__in=AdministrationSource.values),
                                   name="administration_source_valid"),
            *_item_range_constraints(),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.get_timepoint_display()}"

    @property
    def answers(self) -> dict[str, int | None]:
        return {item.code: getattr(self, item.code) for item in ITEMS}

    @property
    def is_complete(self) -> bool:
        return self.status == AdministrationStatus.COMPLETE

    @property
    def awaits_check(self) -> bool:
        """Completed by the patient and not yet confirmed by a nurse."""
        return self.source != AdministrationSource.NURSE and self.checked_at is None


class ItemWording(models.Model):
    """Full licensed wording of an item, loaded by a site that holds the licence.

    The application ships item codes and short labels only (the BPI, PIH and PPiC wording
    belongs to their owners); `manage.py load_item_wording FILE` fills this table, and the
    entry page then shows the full wording under each short label.
    """

    code = models.CharField("item code", max_length=40, unique=True)
    wording = models.TextField("full wording")
    source = models.CharField("source / licence", max_length=200, blank=True)
    loaded_at = models.DateTimeField("loaded", auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class FrozenRecordError(Exception):
    """A frozen record (a cohort snapshot, a dataset freeze) was to be changed or deleted."""


class FrozenQuerySet(models.QuerySet):
    """Rows only ever added: a bulk update or delete is refused too (SQLite has no trigger)."""

    def update(self, **kwargs):
        raise FrozenRecordError(f"{self.model._meta.verbose_name}: frozen rows cannot be "
                                "changed.")

    def delete(self):
        raise FrozenRecordError(f"{self.model._meta.verbose_name}: frozen rows cannot be "
                                "deleted.")


class FrozenModel(models.Model):
    """A row written once and kept for ever: save() inserts and then refuses, delete()
    refuses. Subclasses word the refusals (`changed_message`, `deleted_message`, with
    {pk})."""

    changed_message = "Row {pk} is frozen: it cannot be changed."
    deleted_message = "Row {pk} is frozen: it cannot be deleted."

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise FrozenRecordError(self.changed_message.format(pk=self.pk))
        # an INSERT, never the UPDATE Django tries first for a row with its id set
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenRecordError(self.deleted_message.format(pk=self.pk))


class CohortSnapshot(FrozenModel):
    """The cohort CSV's bytes at a moment, kept for ever: what a dataset freeze cites.

    Exactly what `export_cohort` wrote then (DESIGN.md, "Cohort CSV"), with its SHA-256.
    Analysis' DatasetFreeze shares this row's id and holds the codebook, the versions
    and the fitted results; it lives here, below analysis, so that `export_cohort
    --freeze ID` can write the frozen file without importing analysis. Rows are only ever
    added: save() refuses an update and delete() refuses, the admin only shows, and on
    PostgreSQL a trigger refuses UPDATE and DELETE (migration 0006).
    """

    label = models.CharField("label", max_length=200,
                             help_text="What the freeze is for, e.g. 'Paper 1 analysis'.")
    created_at = models.DateTimeField("frozen at", auto_now_add=True)
    created_by = models.CharField("frozen by", max_length=150, blank=True,
                                  help_text="User name (or operating-system user of the "
                                            "command); text, so the row never changes.")
    data = models.BinaryField("cohort CSV", editable=False)
    sha256 = models.CharField("SHA-256 of the cohort CSV", max_length=64, db_index=True)
    row_count = models.PositiveIntegerField("rows")

    objects = FrozenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "cohort snapshot"

    def __str__(self) -> str:
        return f"Freeze {self.pk}: {self.label}"

    changed_message = "Freeze {pk} cannot be changed: a frozen cohort file is kept as it was."
    deleted_message = "Freeze {pk} cannot be deleted: a frozen cohort file is kept as it was."


# The verified-keying models live in their own module (imported here so Django finds them).
from .verification_models import (  # noqa: E402, F401
    KeyingDiscrepancy,
    KeyingMode,
    KeyingSetting,
    KeyingStatus,
    KeyingVerification,
)
