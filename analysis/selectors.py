"""Reads of the records researchers and data managers keep (writes: analysis/services.py)."""
from __future__ import annotations

from .models import StudyTarget


def study_target_get() -> StudyTarget:
    """The one study target row (the study's defaults until a data manager changes them)."""
    target = StudyTarget.objects.order_by("pk").first()
    return target if target is not None else StudyTarget()
