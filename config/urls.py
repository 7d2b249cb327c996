"""The site's URLs. Each app's pages are included here; a page drawn by a higher app than
its URL name says (the clinic worklist, the patient record and history need questionnaire
data) joins its namespace here, so URLs and names stay as they were while no app imports
one above it (core < clinics < patients < questionnaires < analysis)."""
from django.contrib import admin
from django.urls import include, path

from clinics import urls as clinics_urls
from clinics.views import home
from patients import urls as patients_urls
from questionnaires import urls as questionnaires_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home, name="home"),
    path("", include(([*clinics_urls.urlpatterns, *questionnaires_urls.clinic_pages],
                      "clinics"))),
    path("patients/", include(([*patients_urls.urlpatterns,
                                *questionnaires_urls.patient_pages], "patients"))),
    path("questionnaires/", include("questionnaires.urls")),
    path("analysis/", include("analysis.urls")),
]
