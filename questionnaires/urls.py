from django.urls import path

from . import views

app_name = "questionnaires"
urlpatterns = [
    path("<str:study_id>/<str:timepoint>/", views.administration_entry, name="entry"),
    path("<str:study_id>/<str:timepoint>/confirm/", views.administration_confirm_view,
         name="confirm"),
]
