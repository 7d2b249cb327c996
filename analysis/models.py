"""Analysis-side records: study target, exports, interview sub-sample.

Model runs and refit requests are defined further down by the analysis engine.
"""
from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Patient
from questionnaires.models import CohortSnapshot, FrozenModel, FrozenQuerySet

from .stats.results import HEADLINE_CHOICES, KR_BELOW_CLINICS


class StudyTarget(models.Model):
    """Inputs of the study's power calculation; one row, changed by a data manager.

    Defaults are the study's: standardised difference 0.40, power 0.95, two-sided alpha
    0.05, giving at least 84 completers.
    """

    standardised_difference = models.FloatField("standardised difference", default=0.40)
    power = models.FloatField("power", default=0.95)
    alpha = models.FloatField("two-sided alpha", default=0.05)
    headline_inference = models.CharField(
        "Table 2 headline inference", max_length=16, choices=HEADLINE_CHOICES, default="auto",
        help_text="Which p-values and CIs Table 2 shows first on the dashboard (the others "
                  "are shown beside them). Auto: Kenward-Roger with fewer than "
                  f"{KR_BELOW_CLINICS} clinics, else z.")
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


# --- Model runs and the refit outbox (analysis/runs) --------------------------------


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ModelRun(models.Model):
    """One execution of the study's analyses (Tables 1 and 2, change, attrition).

    `results` holds the JSON documented in analysis/stats/results.py. A run is claimed by
    a worker with an atomic update (queued, or running with a stale heartbeat), so a task
    delivered twice, or redelivered after its worker died, never runs it twice at once.
    """

    status = models.CharField("status", max_length=10, choices=RunStatus.choices,
                              default=RunStatus.QUEUED, db_index=True)
    trigger = models.CharField("trigger", max_length=200, blank=True,
                               help_text="Why the run was requested (data change, command).")
    changes_included = models.PositiveIntegerField(
        "changes included", default=0,
        help_text="Data changes recorded since the previous refit that this run covers.")
    options = models.JSONField("options", default=dict, blank=True,
                               help_text="Analysis options, e.g. the analysis population.")
    fingerprint = models.CharField("data fingerprint", max_length=64, blank=True, db_index=True,
                                   help_text="SHA-256 over the analysis data, options and "
                                             "scoring version.")
    results = models.JSONField("results", null=True, blank=True,
                               help_text="Tables as JSON; structure in analysis/stats/results.py.")
    warnings = models.JSONField("warnings", default=list, blank=True)
    timings = models.JSONField("timings (seconds)", default=dict, blank=True)
    versions = models.JSONField("library versions", default=dict, blank=True)
    error = models.TextField("error", blank=True, help_text="Why a failed run failed.")
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    created_at = models.DateTimeField("requested", auto_now_add=True, db_index=True)
    started_at = models.DateTimeField("started", null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        "last sign of life", null=True, blank=True,
        help_text="Updated while running; a stale heartbeat means the worker died.")
    finished_at = models.DateTimeField("finished", null=True, blank=True, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+",
                                     verbose_name="requested by")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=RunStatus.values),
                                   name="modelrun_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Model run {self.pk} ({self.get_status_display()})"


class RefitRequest(models.Model):
    """The refit outbox: one row inserted per data change, inside its transaction.

    Insert-only for data entry, so concurrent saves never wait on each other (no shared
    row is updated). The refit tick claims the pending rows with one conditional UPDATE
    (`taken_at`), folds them into a model run (or into nothing when the data is
    unchanged), and deletes claimed rows after a week.
    """

    created_at = models.DateTimeField("changed at", auto_now_add=True)
    reason = models.CharField("change", max_length=200, blank=True)
    taken_at = models.DateTimeField("taken by a refit", null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = "refit request"

    def __str__(self) -> str:
        return f"{self.reason} ({'taken' if self.taken_at else 'pending'})"


# --- Dataset freezes (analysis/freezes) ------------------------------------------------


class DatasetFreeze(FrozenModel):
    """A frozen, citable dataset: the cohort file, its codebook, versions and results.

    The cohort CSV's bytes and SHA-256 are the CohortSnapshot whose id this row shares
    (the id `manage.py freeze` prints). `results` is a ModelRun's results JSON
    (analysis/stats/results.py), fitted on exactly the frozen rows, so the dashboard's
    table templates show it unchanged. Never changed or deleted: see CohortSnapshot.
    """

    snapshot = models.OneToOneField(CohortSnapshot, on_delete=models.PROTECT,
                                    primary_key=True, related_name="freeze",
                                    verbose_name="cohort snapshot")
    codebook = models.BinaryField("codebook CSV", editable=False)
    codebook_sha256 = models.CharField("SHA-256 of the codebook CSV", max_length=64)
    scoring_version = models.CharField("scoring version", max_length=20)
    versions = models.JSONField("software versions", default=dict,
                                help_text="Python, Django, numpy, pandas, scipy, statsmodels, "
                                          "the project's git commit ('unknown' if none).")
    options = models.JSONField("analysis options", default=dict)
    results = models.JSONField("results",
                               help_text="Tables as JSON, as a model run's "
                                         "(analysis/stats/results.py).")
    timings = models.JSONField("timings (seconds)", default=dict, blank=True)

    objects = FrozenQuerySet.as_manager()

    class Meta:
        ordering = ["-snapshot_id"]
        verbose_name = "dataset freeze"

    def __str__(self) -> str:
        return f"Freeze {self.pk}: {self.snapshot.label}"

    changed_message = "Freeze {pk} cannot be changed: its results are kept as they were."
    deleted_message = "Freeze {pk} cannot be deleted."

    @property
    def label(self) -> str:
        return self.snapshot.label

    @property
    def created_at(self):
        return self.snapshot.created_at

    @property
    def sha256(self) -> str:
        return self.snapshot.sha256
