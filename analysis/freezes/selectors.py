"""Reads of dataset freezes."""
from __future__ import annotations

from django.http import Http404

from ..models import DatasetFreeze


def freezes_list() -> list[DatasetFreeze]:
    """Every freeze, newest first, without its large columns (file, codebook, results)."""
    return list(DatasetFreeze.objects.select_related("snapshot")
                .defer("codebook", "results", "snapshot__data").order_by("-snapshot_id"))


def freeze_get(freeze_id: object) -> DatasetFreeze:
    """The freeze with this id (text from a URL or a query string), or 404."""
    try:
        pk = int(str(freeze_id))
    except ValueError:
        raise Http404(f"No freeze {freeze_id}.") from None
    freeze = DatasetFreeze.objects.select_related("snapshot").filter(pk=pk).first()
    if freeze is None:
        raise Http404(f"No freeze {pk}.")
    return freeze
