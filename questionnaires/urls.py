from django.urls import path

from . import views

app_name = "questionnaires"
urlpatterns = [
    path("<str:study_id>/<str:timepoint>/", views.administration_entry, name="entry"),
    path("<str:study_id>/<str:timepoint>/confirm/", views.administration_confirm_view,
         name="confirm"),
]

# Pages drawn here under other apps' URL names; config/urls.py adds them to the
# "clinics" and "patients" namespaces, at the URLs they always had.
clinic_pages = [
    path("clinics/<str:code>/worklist/", views.worklist, name="worklist"),
]
patient_pages = [
    path("<str:study_id>/", views.patient_detail, name="detail"),
    path("<str:study_id>/history/", views.patient_history_view, name="history"),
]
