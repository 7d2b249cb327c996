"""Front's pages keep the URL names they always had: config/urls.py joins them to the
"clinics" and "patients" namespaces, at the URLs they always had."""
from django.urls import path

from . import views

clinic_pages = [
    path("clinics/<str:code>/worklist/", views.worklist, name="worklist"),
]
patient_pages = [
    path("<str:study_id>/", views.patient_detail, name="detail"),
    path("<str:study_id>/history/", views.patient_history, name="history"),
]
