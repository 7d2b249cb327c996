"""Permissions-Policy on every response (issue 15): pages, errors and the health check."""
import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/accounts/login/", "/no-such-page/", "/p/"])
def test_every_response_has_the_permissions_policy(client, url):
    policy = client.get(url)["Permissions-Policy"]
    assert {"camera=()", "microphone=()", "geolocation=()", "payment=()"} <= {
        part.strip() for part in policy.split(",")}


def test_the_health_check_has_it_too(client):
    assert "camera=()" in client.get(reverse("health"))["Permissions-Policy"]
