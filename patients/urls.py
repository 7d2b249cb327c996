from django.urls import path

from . import views

app_name = "patients"
urlpatterns = [
    path("enrol/<str:code>/", views.patient_enrol, name="enrol"),
    path("<str:study_id>/", views.patient_detail, name="detail"),
    path("<str:study_id>/characteristics/", views.patient_edit, name="edit"),
    path("<str:study_id>/withdraw/", views.patient_withdraw, name="withdraw"),
    path("<str:study_id>/lost/", views.patient_mark_lost, name="lost"),
    path("<str:study_id>/history/", views.patient_history_view, name="history"),
]
