"""Walking every URL of the site with data behind it (the no-store and two-factor tests).

`make_admin_records` makes one record of every model the admin shows; `site_records` adds
the values every URL parameter needs; `url_patterns` lists every page of the URLconf and
`url_for` / `unnamed_url` turn one into a URL.
"""
from __future__ import annotations

import datetime as dt
import re

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, reverse

from patients.models import Patient
from questionnaires.models import CohortSnapshot


def make_admin_records(manager, nurse_a, make_patient, make_administration) -> None:
    """One record of every registered model, made as the application makes them."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from analysis.models import (
        DatasetFreeze,
        ExportLog,
        InterviewContact,
        ModelRun,
        StudyTarget,
    )
    from patients.services import patient_access_record, patient_withdraw
    from questionnaires.models import ItemWording

    patient = make_patient(study_id="A-001")
    make_administration(patient)
    withdrawn = make_patient(study_id="A-002")
    patient_withdraw(patient=withdrawn, withdrawn_on=withdrawn.consented_on + dt.timedelta(1),
                     reason="moved away", keep_collected_data=True, by=nurse_a)
    patient_access_record(patient=patient, user=nurse_a, path="/patients/A-001/")
    ItemWording.objects.create(code="bpi_worst", wording="Worst pain", source="licence")
    StudyTarget.objects.create()
    InterviewContact.objects.create(patient=patient, recorded_by=manager)
    ExportLog.objects.create(user=manager, file="cohort_csv", row_count=1)
    ModelRun.objects.create(trigger="test")
    AccessAttempt.objects.create(username="nurse_a", ip_address="10.0.0.1", user_agent="x",
                                 failures_since_start=3, get_data="", post_data="",
                                 http_accept="", path_info="/accounts/login/")
    AccessLog.objects.create(username="nurse_a", ip_address="10.0.0.1", user_agent="x",
                             http_accept="", path_info="/accounts/login/")
    AccessFailureLog.objects.create(username="nurse_a", ip_address="10.0.0.1",
                                    user_agent="x", http_accept="",
                                    path_info="/accounts/login/", locked_out=False)
    freeze = CohortSnapshot(label="test freeze", data=b"study_id\r\n", sha256="0" * 64,
                            row_count=0)
    freeze.save()
    DatasetFreeze(snapshot=freeze, codebook=b"file\r\n", codebook_sha256="0" * 64,
                  scoring_version="test", results={}).save()
    TOTPDevice.objects.create(user=nurse_a, name="authenticator", confirmed=True)
    StaticDevice.objects.create(user=nurse_a, name="recovery codes", confirmed=True)
    from dataqueries.services import query_raise

    query_raise(patient=patient, by=manager, text="Please check the date.")



def site_records(manager, nurse_a, clinic_a, make_patient, make_administration) -> dict:
    """A record of every admin model and the values of the URLs' parameters."""
    make_admin_records(manager, nurse_a, make_patient, make_administration)
    patient = Patient.objects.get(study_id="A-001")
    return {
        "code": clinic_a.code, "study_id": patient.study_id, "timepoint": "baseline",
        "file": "cohort_csv", "app_label": "patients", "url": "no/such/page/",
        "content_type_id": str(ContentType.objects.get_for_model(patient).pk),
        ("admin:view_on_site", "object_id"): str(patient.pk),
        "uidb64": "MQ", "token": "set-password",
        # The People pages (clinics.urls): a user and one of their memberships.
        "pk": str(nurse_a.pk), "membership_pk": str(nurse_a.memberships.first().pk),
        "query_id": str(patient.queries.get().pk),  # the query pages (dataqueries.urls)
        "freeze_id": str(CohortSnapshot.objects.order_by("pk").first().pk),
        # a run's report pages (analysis.urls)
        "run_id": str(apps.get_model("analysis", "ModelRun").objects.order_by("pk")
                      .first().pk),  # a run's report pages
    }


def url_patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    """(route, name, pattern) for every page, namespaces joined as reverse() spells them."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from url_patterns(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name or "", entry.pattern


def _admin_model(name: str):
    """The model of an admin page name such as admin:patients_patient_change."""
    for model in apps.get_models():
        if name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
            return model
    return None


def _arguments(name: str, pattern, data: dict) -> list[str] | dict[str, str]:
    """Values for the pattern's parameters, from the test data."""
    regex = pattern.regex
    model = _admin_model(name)
    if regex.groupindex:
        values = {}
        for parameter in regex.groupindex:
            if parameter in ("object_id", "id") and model is not None:
                values[parameter] = str(model.objects.order_by("pk").first().pk)
            else:
                values[parameter] = data[(name, parameter)] if (name, parameter) in data \
                    else data[parameter]
        return values
    if regex.groups:  # django-simple-history's past version: (object id, version id)
        obj = model.objects.order_by("pk").first()
        return [str(obj.pk), str(obj.history.earliest("history_id").history_id)]
    return []


def url_for(route_name: str, pattern, data: dict) -> str:
    arguments = _arguments(route_name, pattern, data)
    if isinstance(arguments, dict):
        return reverse(route_name, kwargs=arguments)
    return reverse(route_name, args=arguments)


def unnamed_url(route: str) -> str:
    """The admin's unnamed pages: "<object id>/" (a redirect to the change page) and the
    catch-all."""
    if route == "admin/(?P<url>.*)$":
        return "/admin/no/such/page/"
    match = re.fullmatch(r"admin/(\w+)/(\w+)/<path:object_id>/", route)
    assert match, f"no value for the parameters of {route}"
    model = apps.get_model(*match.groups())
    return f"/{route.replace('<path:object_id>', str(model.objects.order_by('pk').first().pk))}"
