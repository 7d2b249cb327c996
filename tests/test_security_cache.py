"""No patient data in caches: every page a signed-in user gets, and every download, says
`Cache-Control: no-store, private`. Tried on every URL in the URLconf, its parameters
filled from test data (a URL whose parameter has no value here fails the test)."""
from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from core.middleware import NoStoreForSignedInMiddleware
from tests.test_security_admin import make_admin_records

pytestmark = pytest.mark.django_db


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    """(route, name, pattern) for every page, namespaces joined as reverse() spells them."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _patterns(entry, prefix + str(entry.pattern), inner)
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


def _url(route_name: str, pattern, data: dict) -> str:
    from django.urls import reverse

    arguments = _arguments(route_name, pattern, data)
    if isinstance(arguments, dict):
        return reverse(route_name, kwargs=arguments)
    return reverse(route_name, args=arguments)


def _unnamed_url(route: str) -> str:
    """The admin's unnamed pages: "<object id>/" (a redirect to the change page) and the
    catch-all."""
    if route == "admin/(?P<url>.*)$":
        return "/admin/no/such/page/"
    match = re.fullmatch(r"admin/(\w+)/(\w+)/<path:object_id>/", route)
    assert match, f"no value for the parameters of {route}"
    model = apps.get_model(*match.groups())
    return f"/{route.replace('<path:object_id>', str(model.objects.order_by('pk').first().pk))}"


@pytest.fixture
def site_data(manager, nurse_a, clinic_a, make_patient, make_administration):
    """A record of every admin model and the values of the URLs' parameters."""
    from patients.models import Patient

    make_admin_records(manager, nurse_a, make_patient, make_administration)
    patient = Patient.objects.get(study_id="A-001")
    return {
        "code": clinic_a.code, "study_id": patient.study_id, "timepoint": "baseline",
        "file": "cohort_csv", "app_label": "patients", "url": "no/such/page/",
        "content_type_id": str(ContentType.objects.get_for_model(patient).pk),
        ("admin:view_on_site", "object_id"): str(patient.pk),
        "uidb64": "MQ", "token": "set-password",
    }


def test_every_url_answers_a_signed_in_user_with_no_store(client, manager, site_data):
    client.force_login(manager)
    routes = list(_patterns(get_resolver()))
    cached = []
    for route, name, pattern in routes:
        url = _url(name, pattern, site_data) if name else _unnamed_url(route)
        response = client.get(url)
        directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
        if not {"no-store", "private"} <= directives:
            cached.append((name or route, response.status_code, response.get("Cache-Control")))
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)  # finish the export (it logs at the end)
    assert len(routes) > 100  # the admin's pages for every model are in the walk
    assert cached == []


def test_downloads_are_not_cached(client, manager, site_data):
    from django.urls import reverse

    client.force_login(manager)
    for file in ("cohort_csv", "cohort_dta", "codebook_csv"):
        response = client.get(reverse("analysis:download", args=[file]))
        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]
        assert {"no-store", "private"} <= {
            part.strip() for part in response["Cache-Control"].split(",")}
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)


def test_an_anonymous_download_is_not_cached_either():
    """The rule holds for any attachment, whoever asks (no view of ours serves one to an
    anonymous user today)."""
    from django.contrib.auth.models import AnonymousUser

    def attachment(request):
        response = HttpResponse(b"study_id\n")
        response["Content-Disposition"] = 'attachment; filename="x.csv"'
        return response

    request = RequestFactory().get("/x.csv")
    request.user = AnonymousUser()
    response = NoStoreForSignedInMiddleware(attachment)(request)
    assert {"no-store", "private"} <= {p.strip() for p in response["Cache-Control"].split(",")}

