from django.contrib import admin
from django.urls import include, path

from clinics.views import home

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home, name="home"),
    path("", include("clinics.urls")),
    path("patients/", include("patients.urls")),
    path("questionnaires/", include("questionnaires.urls")),
    path("analysis/", include("analysis.urls")),
]
