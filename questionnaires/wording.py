"""Licensed full item wording: loaded from a site's own file, never shipped."""
from __future__ import annotations

import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from .instruments import ITEMS_BY_CODE
from .models import ItemWording


def read_wording_file(path: Path) -> list[tuple[str, str]]:
    """Rows (code, wording) of a CSV with columns `code,wording`; every error by line."""
    errors: list[str] = []
    rows: list[tuple[str, str]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"code", "wording"} <= set(reader.fieldnames):
            raise ValidationError("line 1: the header must name the columns code and wording.")
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            code, wording = (row["code"] or "").strip(), (row["wording"] or "").strip()
            if code not in ITEMS_BY_CODE:
                errors.append(f"line {line}, column code: unknown item code '{code}'.")
            elif code in seen:
                errors.append(f"line {line}, column code: {code} appears twice.")
            elif not wording:
                errors.append(f"line {line}, column wording: empty wording for {code}.")
            else:
                seen.add(code)
                rows.append((code, wording))
    if errors:
        raise ValidationError(errors)
    return rows


@transaction.atomic
def item_wording_load(*, rows: list[tuple[str, str]], source: str) -> int:
    """Replace the stored wording of the given items; all or nothing."""
    for code, wording in rows:
        ItemWording.objects.update_or_create(code=code,
                                             defaults={"wording": wording, "source": source})
    return len(rows)


def item_wordings() -> dict[str, str]:
    """Full wording by item code (empty where the site has loaded none)."""
    return dict(ItemWording.objects.values_list("code", "wording"))
