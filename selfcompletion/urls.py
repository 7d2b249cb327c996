"""Patient pages under /p/ (the link and the tablet) and the staff actions that start them.
Fixed paths come before /p/<token>/: a token is 43 characters, never "tablet" or "ended".
The part of the questionnaire is a query parameter (?part=2), not a path parameter."""
from django.urls import path

from . import views

app_name = "selfcompletion"
urlpatterns = [
    path("p/", views.code_entry, name="code"),
    path("p/ended/", views.ended, name="ended"),
    path("p/tablet/", views.tablet, name="tablet"),
    path("p/tablet/questions/", views.tablet_part, name="tablet_part"),
    path("p/tablet/review/", views.tablet_review, name="tablet_review"),
    path("p/tablet/done/", views.tablet_done, name="tablet_done"),
    path("p/tablet/exit/", views.tablet_exit, name="tablet_exit"),
    path("p/<str:token>/", views.link_landing, name="link"),
    path("p/<str:token>/questions/", views.link_part, name="link_part"),
    path("p/<str:token>/review/", views.link_review, name="link_review"),
    path("selfcompletion/<str:study_id>/<str:timepoint>/hand-to-patient/",
         views.hand_to_patient, name="hand_to_patient"),
    path("selfcompletion/<str:study_id>/invite/", views.invite, name="invite"),
    path("selfcompletion/<str:study_id>/invitation-card/", views.card, name="card"),
]
