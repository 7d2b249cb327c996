"""Fast inserts with their audit-trail records, for seeding and importing whole cohorts.

Django's bulk_create spends about 10 microseconds per value preparing a row of 70 columns,
which makes 200,000 administrations and their history take minutes. On PostgreSQL this
module streams plain rows with COPY instead (ids reserved from the table's sequence first,
so that each history record can name its row); elsewhere (SQLite, the embedded default,
with small cohorts) it uses simple_history's bulk_create_with_history. Either way every
new row gets one "+" history record with its author, date and reason, as a save would.

Values must already be valid (the callers validate every cell) and of plain Python
types: int, float, str, bool, date, datetime or None.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, get_history_model_for_model

from ..instruments import SCALES
from ..models import PihFormVersion
from ..services import apply_scores
from .batching import batched

COPY_BATCH = 20_000
NULL = "\\N"
HISTORY_USER = "_history_user_id"
HISTORY_DATE = "_history_date"


class ScoreCarrier:
    """Stands in for an Administration in `services.apply_scores`, which reads `answers`
    and `pih_form_version` and sets the score attributes: the very code data entry runs,
    without building a model instance per row."""

    def __init__(self, answers: dict[str, int | None],
                 pih_form_version: str = PihFormVersion.CURRENT) -> None:
        self.answers = answers
        self.pih_form_version = pih_form_version


SCORE_FIELDS: tuple[str, ...] = (*(scale.code for scale in SCALES),
                                 *(f"{scale.code}_n" for scale in SCALES), "scoring_version")


def scored(answers: dict[str, int | None],
           pih_form_version: str = PihFormVersion.CURRENT) -> dict[str, Any]:
    """The score fields of an administration with these answers (via apply_scores)."""
    carrier = ScoreCarrier(answers, pih_form_version)
    apply_scores(carrier)
    return {name: getattr(carrier, name) for name in SCORE_FIELDS}


def _defaults(model: type[models.Model]) -> dict[str, Any]:
    now = timezone.now()
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values[field.attname] = now
        else:  # the declared default, else "" for text and None for nullable fields
            values[field.attname] = field.get_default()
    return values


def insert_with_history(model: type[models.Model], rows: Sequence[dict[str, Any]], *,
                        change_reason: str, history_user_id: int | None = None) -> list[int]:
    """Insert rows (attname -> value; fields left out take their defaults) with a creation
    record each; return the new primary keys in row order.

    A row may carry `_history_user_id` and `_history_date` for its history record;
    otherwise `history_user_id` and now are used.
    """
    if not rows:
        return []
    if connection.vendor == "postgresql":
        return _copy_with_history(model, rows, change_reason=change_reason,
                                  history_user_id=history_user_id)
    return _bulk_create_with_history(model, rows, change_reason=change_reason,
                                     history_user_id=history_user_id)


# -- PostgreSQL: COPY ------------------------------------------------------------------------

def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [table, pk, count])
        return [row[0] for row in cursor.fetchall()]


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):  # a JSONField's value: COPY reads JSON text
        return json.dumps(value)
    return NULL if value is None else value


def _copy(table: str, columns: list[str], lines: Iterable[list[Any]]) -> None:
    quote = connection.ops.quote_name
    sql = (f"COPY {quote(table)} ({', '.join(quote(column) for column in columns)}) "
           f"FROM STDIN WITH (FORMAT csv, NULL '{NULL}')")
    with connection.cursor() as cursor:
        for batch in batched(lines, COPY_BATCH):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(batch)
            buffer.seek(0)
            # copy_expert is psycopg2's own: wrap it so that a unique violation (a
            # concurrent import) surfaces as Django's IntegrityError, as an INSERT would.
            with connection.wrap_database_errors:
                cursor.copy_expert(sql, buffer)


def _copy_with_history(model: type[models.Model], rows: Sequence[dict[str, Any]], *,
                       change_reason: str, history_user_id: int | None) -> list[int]:
    defaults = _defaults(model)
    attnames = list(defaults)
    fields = {f.attname: f.column for f in model._meta.concrete_fields}
    ids = _reserve_ids(model, len(rows))
    pk_column = model._meta.pk.column

    def values(row: dict[str, Any]) -> list[Any]:
        return [row[name] if name in row else defaults[name] for name in attnames]

    _copy(model._meta.db_table, [pk_column, *(fields[name] for name in attnames)],
          ([pk, *map(_cell, values(row))] for pk, row in zip(ids, rows, strict=True)))
    history = get_history_model_for_model(model)
    history_columns = {f.attname: f.column for f in history._meta.concrete_fields}
    columns = [history_columns[model._meta.pk.attname], *(history_columns[n] for n in attnames)]
    extra = ["history_date", "history_change_reason", "history_type", "history_user_id"]
    now = timezone.now()
    if any(HISTORY_USER in row or HISTORY_DATE in row for row in rows):
        _copy(history._meta.db_table, [*columns, *extra],
              ([pk, *map(_cell, values(row)), row.get(HISTORY_DATE, now), change_reason, "+",
                _cell(row.get(HISTORY_USER, history_user_id))]
               for pk, row in zip(ids, rows, strict=True)))
    else:
        # One author and date for all: the server copies the rows just written.
        source = [pk_column, *(fields[name] for name in attnames)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(history._meta.db_table)} "
                f"({', '.join(quote(c) for c in [*columns, *extra])}) "
                f"SELECT {', '.join(quote(c) for c in source)}, %s, %s, '+', %s "
                f"FROM {quote(model._meta.db_table)} WHERE {quote(pk_column)} = ANY(%s)",
                [now, change_reason, history_user_id, ids])
    return ids


# -- other databases: simple_history's bulk_create_with_history ------------------------------

def _bulk_create_with_history(model: type[models.Model], rows: Sequence[dict[str, Any]], *,
                              change_reason: str, history_user_id: int | None) -> list[int]:
    user_ids = {row.get(HISTORY_USER, history_user_id) for row in rows} - {None}
    users = get_user_model().objects.in_bulk(list(user_ids))
    objs = []
    for row in rows:
        obj = model(**{k: v for k, v in row.items() if not k.startswith("_history")})
        user_id = row.get(HISTORY_USER, history_user_id)
        obj._history_user = users.get(user_id) if user_id is not None else None
        if HISTORY_DATE in row:
            obj._history_date = row[HISTORY_DATE]
        objs.append(obj)
    created = bulk_create_with_history(objs, model, batch_size=2000,
                                       default_change_reason=change_reason)
    return [obj.pk for obj in created]


def analyze(*model_classes: type[models.Model]) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (with stale statistics it
    plans for a handful of rows)."""
    if connection.vendor != "postgresql":
        return
    # History tables are read by primary key and index only: their statistics can wait
    # for autovacuum.
    tables = [model._meta.db_table for model in model_classes]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(t) for t in tables)}")
