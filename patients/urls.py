from django.urls import path

from . import signoff_views, views

app_name = "patients"
# The namespace also holds "detail" and "history" (front.urls.patient_pages),
# joined in config/urls.py: those pages compose several apps.
urlpatterns = [
    path("enrol/<str:code>/", views.patient_enrol, name="enrol"),
    path("<str:study_id>/characteristics/", views.patient_edit, name="edit"),
    path("<str:study_id>/withdraw/", views.patient_withdraw, name="withdraw"),
    path("<str:study_id>/lost/", views.patient_mark_lost, name="lost"),
    path("<str:study_id>/sign-off/", signoff_views.record_sign_off, name="sign_off"),
    path("<str:study_id>/unlock/", signoff_views.record_unlock, name="unlock"),
    path("clinic/<str:code>/sign-off/", signoff_views.clinic_sign_off, name="clinic_sign_off"),
]
