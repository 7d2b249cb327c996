"""Benchmark the clinic worklist page at clinics of 330, 3,300 and 33,000 patients (PostgreSQL).

The page is requested with Django's test Client in-process (server time: view, queries,
template) by the clinic's nurse: twice to warm it, then `--repeat` times timed; the median
and p95 (nearest rank) are printed with the queries of one request.

    .venv/bin/python bench/bench_worklist.py                      # database bench_worklist
    .venv/bin/python bench/bench_worklist.py --code /work/wt/worklist-before   # older code

`--code` runs the page of another checkout of the project (its apps go first on sys.path;
the cohort is built by this one the first time), so "before" and "after" are timed by the
same script on the same database.

The cohort is made once and kept: `seed_demo --patients 100000 --clinics 30` (the national
scale of issue 18), then three clinics of exactly 330 (XS), 3,300 (XM) and 33,000 (XL)
patients, each a copy of the first seeded patients by study ID with their administrations
(so the mix of states is the demo's), and a nurse for each (nurse_xs, nurse_xm, nurse_xl).
The copies are plain rows (no audit records): the worklist does not read the history.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_worklist"
CLINICS = (("XS", 330), ("XM", 3_300), ("XL", 33_000))
BATCH = 2_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--code", type=Path, default=HERE.parent,
                        help="root of the checkout whose worklist is timed")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--setup-only", action="store_true", help="build the cohort and stop")
    return parser.parse_args()


def ensure_cohort(url: str) -> None:
    from bench_pages import ensure_cohort as seed

    seed(url, 100_000, 30)   # migrate (this checkout's), then seed_demo if empty


def copy_clinics() -> None:
    """Clinics S, M and L as copies of the first seeded patients (skipped once made)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from clinics.models import Clinic, Membership, Role
    from patients.models import Patient
    from questionnaires.models import Administration

    source = list(Patient.objects.exclude(clinic__code__in=[c for c, _ in CLINICS])
                  .order_by("study_id")[:max(n for _, n in CLINICS)])
    patient_fields = [f.attname for f in Patient._meta.concrete_fields
                      if f.attname not in ("id", "study_id", "clinic_id", "enrolment_key")]
    admin_fields = [f.attname for f in Administration._meta.concrete_fields
                    if f.attname not in ("id", "patient_id")]
    user_model = get_user_model()
    for code, size in CLINICS:
        clinic, _ = Clinic.objects.get_or_create(code=code, defaults={"name": f"Clinic {code}"})
        nurse, _ = user_model.objects.get_or_create(username=f"nurse_{code.lower()}")
        Membership.objects.get_or_create(user=nurse, clinic=clinic,
                                         defaults={"role": Role.NURSE})
        if Patient.objects.filter(clinic=clinic).exists():
            continue
        with transaction.atomic():
            for start in range(0, size, BATCH):
                batch = source[start:min(start + BATCH, size)]
                copies = Patient.objects.bulk_create([
                    Patient(clinic=clinic, study_id=f"{code}-{start + i + 1:05d}",
                            **{f: getattr(p, f) for f in patient_fields})
                    for i, p in enumerate(batch)])
                new_id = {p.pk: copy.pk for p, copy in zip(batch, copies, strict=True)}
                Administration.objects.bulk_create([
                    Administration(patient_id=new_id[a.patient_id],
                                   **{f: getattr(a, f) for f in admin_fields})
                    for a in Administration.objects.filter(patient__in=batch)])
        print(f"clinic {code}: {size:,} patients copied", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def time_page(url: str, username: str, repeat: int) -> dict:
    from bench_pages import time_page as timed

    return timed(url, username, repeat)


def main() -> None:
    args = parse_args()
    import bench_pages  # puts this checkout first on sys.path: --code must go before it

    sys.path.insert(0, str(args.code.resolve()))
    ensure_cohort(args.database_url)
    bench_pages.setup_django(args.database_url)
    copy_clinics()
    if args.setup_only:
        return
    from django.urls import reverse

    from patients.models import Patient

    print(f"code: {args.code.resolve()}; {Patient.objects.count():,} patients in the "
          f"database; {args.repeat} timed requests per line after 2 to warm up")
    print("| clinic (patients) | request | median ms | p95 ms | queries |\n"
          "|---|---|---:|---:|---:|")
    requests = [(code, "") for code, _ in CLINICS]
    requests += [("XM", "?sort=study_id"), ("XM", "?sort=baseline"), ("XM", "?status=overdue"),
                 ("XM", "?q=XM-012"), ("XM", "?page=20")]
    for code, query in requests:
        size = Patient.objects.filter(clinic__code=code).count()
        url = reverse("clinics:worklist", args=[code]) + query
        result = time_page(url, f"nurse_{code.lower()}", args.repeat)
        print(f"| {code} ({size:,}) | {query or 'default (urgency, page 1)'} | "
              f"{result['median']:.0f} | {result['p95']:.0f} | {result['queries']} |",
              flush=True)


if __name__ == "__main__":
    main()
