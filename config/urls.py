"""The site's URLs. Each app's pages are included here; the pages front draws from several
apps (the clinic worklist, the patient record and its history) join the "clinics" and
"patients" namespaces here, so URLs and names stay as they were while no app imports one
above it (core < clinics < ... < analysis < front)."""
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.auth.views import LoginView, PasswordResetConfirmView, PasswordResetView
from django.urls import URLPattern, include, path

from clinics import urls as clinics_urls
from clinics.views import home
from core.otp import views as two_factor
from core.otp.forms import NewPasswordForm, PasswordResetRequestForm, SignInForm
from core.views import health, when_password_reset_offered
from front import urls as front_urls
from patients import urls as patients_urls

# Django's password pages with the project's accessible forms (core.otp.forms).
PASSWORD_FORMS = {"password_reset": (PasswordResetView, PasswordResetRequestForm),
                  "password_reset_confirm": (PasswordResetConfirmView, NewPasswordForm)}


def _sign_in_pages() -> list[URLPattern]:
    """Django's sign-in pages; the password-reset ones only where mail is delivered."""
    pages = []
    for page in auth_urls.urlpatterns:
        if page.name == "login":  # says how many tries are left (core.otp.forms)
            page = URLPattern(page.pattern, LoginView.as_view(authentication_form=SignInForm),
                              page.default_args, page.name)
        if page.name in PASSWORD_FORMS:
            view, form = PASSWORD_FORMS[page.name]
            page = URLPattern(page.pattern, view.as_view(form_class=form), page.default_args,
                              page.name)
        if page.name.startswith("password_reset"):
            page = URLPattern(page.pattern, when_password_reset_offered(page.callback),
                              page.default_args, page.name)
        pages.append(page)
    return pages


urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include(_sign_in_pages())),
    path("accounts/two-factor/", two_factor.verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("accounts/two-factor/recovery-codes/", two_factor.recovery_codes,
         name="two_factor_recovery_codes"),
    path("", home, name="home"),
    path("", include(([*clinics_urls.urlpatterns, *front_urls.clinic_pages],
                      "clinics"))),
    path("patients/", include(([*patients_urls.urlpatterns,
                                *front_urls.patient_pages], "patients"))),
    path("questionnaires/", include("questionnaires.urls")),
    path("analysis/", include("analysis.urls")),
    # Patient pages (/p/: the one-time link and the clinic tablet) and their staff actions.
    path("", include("selfcompletion.urls")),
    path("reminders/", include("reminders.urls")),
    path("queries/", include("dataqueries.urls")),
]
