"""The one write of dataset freezes: `freeze_create`.

The cohort file and the live analysis frame are read in one database snapshot
(REPEATABLE READ on PostgreSQL; SQLite's transaction holds its read lock), the models are
fitted on the frame parsed from the frozen bytes (frame.py), and the snapshot, codebook,
versions and results are written in one short transaction at the end.

A freeze is independent of the live refit: it fits its own models here, synchronously,
from its own snapshot; it neither waits for a model run in progress nor touches the
runs or the refit outbox, and a refit never touches a freeze.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from questionnaires.cohort_files.writer import csv_text_chunks, write_cohort_csv
from questionnaires.models import CohortSnapshot
from questionnaires.scoring import SCORING_VERSION

from ..exports.codebook import CODEBOOK_HEADER, codebook_rows
from ..models import DatasetFreeze
from ..runs.compute import compute_results, normalise_options
from ..stats.cohort import load_cohort
from .frame import frozen_frame
from .versions import software_versions

LABEL_REQUIRED = ("Give the freeze a label: what the frozen dataset is for, e.g. "
                  "'Paper 1 analysis'.")


@dataclass(frozen=True)
class _Read:
    data: bytes
    rows: int
    frame: object  # pandas.DataFrame


def clean_label(label: str) -> str:
    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": LABEL_REQUIRED})
    return label


def freeze_create(*, label: str, by_name: str) -> DatasetFreeze:
    """Freeze the cohort as it is now: file, codebook, versions and results fitted on it.

    by_name: who froze it (a user name, or the operating-system user of the command).
    Raises ValidationError naming the field for a bad label, before anything is read.
    """
    label = clean_label(label)
    options = normalise_options(None)
    read = _read_one_snapshot()
    if read.rows == 0:
        raise ValidationError("The cohort has no complete administrations yet: nothing to "
                              "freeze.")
    _check_one_scoring_version(read.frame)
    results, timings = compute_results(options=options, cohort=read.frame)
    codebook = "".join(csv_text_chunks(CODEBOOK_HEADER, codebook_rows())).encode()
    with transaction.atomic():
        snapshot = CohortSnapshot(label=label, created_by=by_name[:150], data=read.data,
                                  sha256=hashlib.sha256(read.data).hexdigest(),
                                  row_count=read.rows)
        snapshot.full_clean()
        snapshot.save()
        freeze = DatasetFreeze(snapshot=snapshot, codebook=codebook,
                               codebook_sha256=hashlib.sha256(codebook).hexdigest(),
                               scoring_version=SCORING_VERSION, versions=software_versions(),
                               options=options, results=results, timings=timings)
        freeze.full_clean(validate_unique=False)  # its id is the new snapshot's
        freeze.save()
    return freeze


def _check_one_scoring_version(frame) -> None:
    """A freeze records one scoring version: every frozen score must be of the current one
    (after a rule change, `manage.py rescore` brings the stored scores to it first)."""
    older = frame.loc[frame["scoring_version"] != SCORING_VERSION, "scoring_version"]
    if len(older):
        versions = ", ".join(sorted(set(older) - {""})) or "none recorded"
        raise ValidationError(
            f"{len(older)} administrations hold scores of another scoring version "
            f"({versions}) than the current {SCORING_VERSION}: run `manage.py rescore` "
            "first. Nothing frozen.")


def _read_one_snapshot() -> _Read:
    """The cohort CSV's bytes and the analysis frame of those rows, from one snapshot."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # must be the transaction's first statement; nested in a caller's transaction
            # (a test) the caller's own snapshot applies
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        stream = io.StringIO(newline="")
        rows = write_cohort_csv(stream)
        data = stream.getvalue().encode()
        live = load_cohort()
    return _Read(data=data, rows=rows, frame=frozen_frame(data, live))
