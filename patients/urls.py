from django.urls import path

from . import views

app_name = "patients"
# The namespace also holds "detail" and "history" (front.urls.patient_pages),
# joined in config/urls.py: those pages compose several apps.
urlpatterns = [
    path("enrol/<str:code>/", views.patient_enrol, name="enrol"),
    path("<str:study_id>/characteristics/", views.patient_edit, name="edit"),
    path("<str:study_id>/withdraw/", views.patient_withdraw, name="withdraw"),
    path("<str:study_id>/lost/", views.patient_mark_lost, name="lost"),
]
