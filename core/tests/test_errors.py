"""Under DEBUG (`make run`) a missing or another clinic's record shows the product's 404."""
import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_another_clinics_patient_shows_the_products_404(client, settings, nurse_b,
                                                         make_patient, debug):
    settings.DEBUG = debug
    patient = make_patient()  # at clinic A; nurse B works at clinic B
    client.force_login(nurse_b)
    response = client.get(reverse("patients:detail", args=[patient.study_id]))
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert "patients of other clinics are not shown" in page
    assert "DEBUG = True" not in page and "URLconf" not in page  # Django's technical 404


def test_make_run_takes_the_port_and_points_reminder_links_at_it():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shown = subprocess.run(["make", "-n", "run", "PORT=8130"], cwd=root, capture_output=True,
                           text=True, check=True).stdout
    assert "runserver 127.0.0.1:8130" in shown
    assert "SITE_URL=http://127.0.0.1:8130" in shown
