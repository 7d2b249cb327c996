from django.urls import path

from . import views

app_name = "clinics"
# The namespace also holds "worklist" (front.urls.clinic_pages), joined in
# config/urls.py: the worklist page needs data of the apps above this one.
urlpatterns = [
    path("clinics/", views.clinic_list, name="list"),
    path("people/", views.people, name="people"),
    path("people/invite/", views.people_invite, name="people_invite"),
    path("people/<int:pk>/", views.person_detail, name="person"),
    path("people/<int:pk>/roles/", views.person_role_give, name="person_role_give"),
    path("people/<int:pk>/roles/<int:membership_pk>/remove/", views.person_role_remove,
         name="person_role_remove"),
    path("people/<int:pk>/active/", views.person_active, name="person_active"),
    path("people/<int:pk>/two-factor-reset/", views.person_two_factor_reset,
         name="person_two_factor_reset"),
    path("people/<int:pk>/unlock/", views.person_unlock, name="person_unlock"),
    path("people/<int:pk>/link/", views.person_link, name="person_link"),
    # The invited user's one-time link (no sign-in).
    path("accounts/set-password/<uidb64>/<token>/", views.SetPasswordView.as_view(),
         name="set_password"),
    path("accounts/set-password/done/", views.SetPasswordDoneView.as_view(),
         name="set_password_done"),
]
