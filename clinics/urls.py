from django.urls import path

from . import views

app_name = "clinics"
urlpatterns = [
    path("clinics/", views.clinic_list, name="list"),
    path("clinics/<str:code>/worklist/", views.worklist, name="worklist"),
]
