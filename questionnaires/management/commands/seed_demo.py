"""`manage.py seed_demo`: a synthetic cohort shaped like the study, and demo logins.

The cohort comes from questionnaires.demo (pure numpy, deterministic for a seed and end date);
this command stores it: clinics, one nurse per clinic, a researcher, a statistician and a
data manager (staff, for the admin), patients with consent, and complete administrations
whose scores are computed by questionnaires.services.apply_scores, as data entry does.
Rows are written in batches by questionnaires.cohort_files.loader (COPY on PostgreSQL),
with a creation record in the audit trail for every patient and administration (author:
the clinic's nurse, dated on the day of consent or completion).
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from clinics.models import Clinic, Membership, Role
from core.otp.services import demo_authenticators
from core.signals import data_changed
from patients.models import Patient
from questionnaires.cohort_files.batching import batched
from questionnaires.cohort_files.loader import (
    HISTORY_DATE,
    HISTORY_USER,
    analyze,
    insert_with_history,
    scored,
)
from questionnaires.demo import DemoCohort, generate_demo_cohort
from questionnaires.models import Administration, AdministrationStatus

DEMO_PASSWORD = "paincohort-demo"
BATCH = 2000
STUDY_WIDE_USERS = (("researcher", Role.RESEARCHER), ("statistician", Role.STATISTICIAN),
                    ("datamanager", Role.DATA_MANAGER))


class Command(BaseCommand):
    help = (
        "Build a synthetic cohort shaped like the study (default 3 clinics, 147 recruited, "
        "about 70 %% followed up) and demo logins: nurse_a, nurse_b, ... (one per clinic), "
        "researcher, statistician, datamanager (staff). Deterministic for a given --seed "
        "and --end-date. Refuses to run when DEBUG is off unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=147, help="patients recruited")
        parser.add_argument("--clinics", type=int, default=3, help="number of clinics")
        parser.add_argument("--seed", type=int, default=2018, help="random seed")
        parser.add_argument("--end-date", type=dt.date.fromisoformat, default=None,
                            help="last day of the study so far, YYYY-MM-DD (default today)")
        parser.add_argument("--password", default=DEMO_PASSWORD,
                            help=f"password of every demo login (default {DEMO_PASSWORD})")
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing (but print the logins) if there are patients")
        parser.add_argument("--force", action="store_true",
                            help="run even though DEBUG is off (never on a real study)")
        parser.add_argument("--no-refit", action="store_true",
                            help="do not request a refit of the analysis afterwards")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DEBUG is off: this looks like production. Demo data must not "
                               "land in a real study; use --force if you mean it.")
        if options["patients"] < 1 or not 1 <= options["clinics"] <= options["patients"]:
            raise CommandError("Need at least one patient and 1 to --patients clinics.")
        if Patient.objects.exists():
            if options["if_empty"]:
                self.stdout.write("The database already has patients; nothing seeded.")
                self._print_logins(self._existing_logins(), password=None)
                return
            raise CommandError("The database already has patients. seed_demo fills an empty "
                               "database only (use --if-empty to skip quietly).")
        cohort = generate_demo_cohort(n_patients=options["patients"],
                                      n_clinics=options["clinics"], seed=options["seed"],
                                      end_date=options["end_date"])
        with transaction.atomic():
            logins = _store(cohort, password=options["password"], seed=options["seed"])
            if not options["no_refit"]:
                data_changed(reason="demo cohort seeded")
        analyze(Patient, Administration)
        self._print_summary(cohort)
        self._print_logins(logins, password=options["password"])

    def _print_summary(self, cohort: DemoCohort) -> None:
        statuses = cohort.patients["followup_status"]
        self.stdout.write(self.style.SUCCESS(
            f"Demo cohort: {len(statuses)} patients at {len(cohort.clinic_codes)} clinics, "
            f"{int((statuses == 'completed').sum())} followed up, "
            f"{int((statuses == 'lost').sum())} lost to follow-up, "
            f"{int((statuses == 'active').sum())} not yet due or overdue; "
            f"{len(cohort.administrations['patient'])} administrations."))

    def _existing_logins(self) -> list[tuple[str, str]]:
        memberships = (Membership.objects.select_related("user", "clinic")
                       .order_by("user__username", "clinic__code"))
        seen: dict[str, str] = {}
        for membership in memberships:
            seen.setdefault(membership.user.username,
                            f"{membership.get_role_display()} ({membership.clinic.code})")
        return list(seen.items())

    def _print_logins(self, logins: list[tuple[str, str]], *, password: str | None) -> None:
        width = max((len(username) for username, _ in logins), default=8)
        self.stdout.write("")
        self.stdout.write("Demo logins" + (f" (password: {password})" if password else
                                           " (password as set when seeded; demo default "
                                           f"{DEMO_PASSWORD})") + ":")
        for username, role in logins:
            self.stdout.write(f"  {username.ljust(width)}  {role}")
        self.stdout.write("The data manager can also use the admin at /admin/.")
        self._print_two_factor(username for username, _ in logins)

    def _print_two_factor(self, usernames) -> None:
        # The demo logins need their second factor: one published key, for demos only.
        key = demo_authenticators(usernames)
        grouped = " ".join(key[start:start + 4] for start in range(0, len(key), 4))
        self.stdout.write("")
        self.stdout.write("Two-factor sign-in: after the password, each demo login asks for a "
                          "6-digit code. Add this DEMO-ONLY key to an authenticator app "
                          "(time-based, 6 digits, 30 s); one entry serves every demo login:")
        self.stdout.write(self.style.WARNING(f"  {grouped}"))
        if not settings.TWO_FACTOR_REQUIRED:
            self.stdout.write("(TWO_FACTOR_REQUIRED is off here: no code will be asked.)")


def _store(cohort: DemoCohort, *, password: str, seed: int) -> list[tuple[str, str]]:
    clinics = _clinics(cohort)
    nurses, logins = _users(clinics, password=password)
    reason = f"demo data (seed_demo --seed {seed})"
    patient_ids = _patients(cohort, clinics, nurses, reason=reason)
    _administrations(cohort, patient_ids, nurses, reason=reason)
    return logins


def _clinics(cohort: DemoCohort) -> dict[str, Clinic]:
    counts: dict[str, int] = {}
    for index in cohort.patients["clinic"].tolist():
        counts[cohort.clinic_codes[index]] = counts.get(cohort.clinic_codes[index], 0) + 1
    clinics = {}
    for code in cohort.clinic_codes:
        clinic, _ = Clinic.objects.get_or_create(code=code, defaults={"name": f"Clinic {code}"})
        # Enrolment in the app carries on after the demo patients' study IDs.
        clinic.next_patient_number = max(clinic.next_patient_number, counts.get(code, 0) + 1)
        clinic.save(update_fields=["next_patient_number"])
        clinics[code] = clinic
    return clinics


def _users(clinics: dict[str, Clinic], *, password: str):
    """One nurse per clinic and the study-wide roles; one password hash for all (fast)."""
    hashed, user_model = make_password(password), get_user_model()
    first_clinic = next(iter(clinics.values()))
    nurses, logins = {}, []
    wanted = [(f"nurse_{code.lower()}", Role.NURSE, clinic) for code, clinic in clinics.items()]
    wanted += [(username, role, first_clinic) for username, role in STUDY_WIDE_USERS]
    for username, role, clinic in wanted:
        user, _ = user_model.objects.update_or_create(
            username=username,
            defaults={"password": hashed, "is_staff": role == Role.DATA_MANAGER,
                      "is_active": True})
        Membership.objects.update_or_create(user=user, clinic=clinic, defaults={"role": role})
        if role == Role.NURSE:
            nurses[clinic.code] = user
        where = f"clinic {clinic.code}" if role == Role.NURSE else "all clinics"
        staff = ", staff: /admin/" if user.is_staff else ""
        logins.append((username, f"{Role(role).label} ({where}{staff})"))
    return nurses, logins


def _noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _patients(cohort: DemoCohort, clinics: dict[str, Clinic], nurses: dict, *,
              reason: str) -> dict[str, int]:
    ids: dict[str, int] = {}
    for batch in batched(cohort.patient_rows(), BATCH * 10):
        rows = []
        for row in batch:
            code = row.pop("clinic")
            rows.append({**row, "clinic_id": clinics[code].pk, "created_by_id": nurses[code].pk,
                         "consent_form_version": "demo-1.0",
                         "consent_taken_by": f"Nurse {code} (demo)",
                         HISTORY_USER: nurses[code].pk,
                         HISTORY_DATE: _noon(row["consented_on"])})
        new_ids = insert_with_history(Patient, rows, change_reason=reason)
        ids.update(zip((row["study_id"] for row in rows), new_ids, strict=True))
    return ids


def _administrations(cohort: DemoCohort, patient_ids: dict[str, int], nurses: dict, *,
                     reason: str) -> None:
    clinic_of = dict(zip(cohort.patients["study_id"].tolist(),
                         [cohort.clinic_codes[i] for i in cohort.patients["clinic"].tolist()],
                         strict=True))
    for batch in batched(cohort.administration_rows(), BATCH * 10):
        rows = []
        for row in batch:
            nurse_id = nurses[clinic_of[row["study_id"]]].pk
            rows.append({
                "patient_id": patient_ids[row["study_id"]], "timepoint": row["timepoint"],
                "administered_on": row["administered_on"],
                "status": AdministrationStatus.COMPLETE, "entered_by_id": nurse_id,
                **row["answers"], **scored(row["answers"]),
                HISTORY_USER: nurse_id, HISTORY_DATE: _noon(row["administered_on"])})
        insert_with_history(Administration, rows, change_reason=reason)
