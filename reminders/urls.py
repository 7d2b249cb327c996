from django.urls import path

from . import views

app_name = "reminders"
urlpatterns = [
    path("patients/<str:study_id>/", views.contact_edit, name="contact"),
    path("patients/<str:study_id>/erase/", views.contact_erase, name="contact_erase"),
    # patient-facing, no sign-in: the token is the follow-up link's
    path("stop/<str:token>/", views.stop, name="stop"),
]
