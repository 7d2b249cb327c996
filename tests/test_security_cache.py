"""No patient data in caches: every page a signed-in user gets, and every download, says
`Cache-Control: no-store, private`. Tried on every URL in the URLconf, its parameters
filled from test data (a URL whose parameter has no value here fails the test)."""
from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import get_resolver

from core.middleware import NoStoreForSignedInMiddleware
from tests.site_walk import unnamed_url, url_for, url_patterns

pytestmark = pytest.mark.django_db


def test_every_url_answers_a_signed_in_user_with_no_store(client, manager, site_data):
    client.force_login(manager)
    routes = list(url_patterns(get_resolver()))
    cached = []
    for route, name, pattern in routes:
        url = url_for(name, pattern, site_data) if name else unnamed_url(route)
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

