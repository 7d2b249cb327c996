from django.urls import path

from . import views

app_name = "clinics"
# The namespace also holds "worklist" (questionnaires.urls.clinic_pages), joined in
# config/urls.py: the worklist page needs data of the apps above this one.
urlpatterns = [
    path("clinics/", views.clinic_list, name="list"),
]
