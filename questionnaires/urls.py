from django.urls import path

from . import verification_views, views

app_name = "questionnaires"
urlpatterns = [
    # Before the entry page's "<study_id>/<timepoint>/": "keying" is no study ID.
    path("keying/report/", verification_views.keying_report, name="keying_report"),
    path("keying/setting/", verification_views.keying_setting_edit, name="keying_setting"),
    path("keying/clinic/<str:code>/", verification_views.keying_clinic, name="keying_clinic"),
    path("<str:study_id>/<str:timepoint>/", views.administration_entry, name="entry"),
    path("<str:study_id>/<str:timepoint>/confirm/", views.administration_confirm_view,
         name="confirm"),
    path("<str:study_id>/<str:timepoint>/second-keying/", verification_views.second_keying,
         name="second_keying"),
    path("<str:study_id>/<str:timepoint>/differences/", verification_views.keying_differences,
         name="keying_differences"),
]
