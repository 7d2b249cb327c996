"""Landing page and clinic choice, and the data managers' People page. The clinic worklist
is drawn by front.views (it composes several apps above this one); its URL name
stays clinics:worklist."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import TemplateView

from clinics import selectors, services
from clinics.forms import InviteForm, RoleForm
from clinics.selectors import clinics_for_user, is_study_wide
from core.forms import add_service_errors
from core.permissions import CAN_MANAGE, requires

log = logging.getLogger("paincohort.people")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user where their work is: worklist, dashboard or a polite dead end."""
    if is_study_wide(user=request.user):
        return redirect("analysis:dashboard")
    clinics = list(clinics_for_user(user=request.user))
    if len(clinics) == 1:
        return redirect("clinics:worklist", code=clinics[0].code)
    if clinics:
        return render(request, "clinics/clinic_list.html", {"clinics": clinics})
    return render(request, "clinics/no_membership.html", status=403)


@login_required
def clinic_list(request: HttpRequest) -> HttpResponse:
    """The clinics the user may see; a nurse at one clinic goes straight to its worklist."""
    clinics = list(clinics_for_user(user=request.user))
    if len(clinics) == 1 and not is_study_wide(user=request.user):
        return redirect("clinics:worklist", code=clinics[0].code)
    if not clinics:
        return render(request, "clinics/no_membership.html", status=403)
    return render(request, "clinics/clinic_list.html", {"clinics": clinics})


# -- the People page (data managers) -----------------------------------------------------------

def _people_page(view):
    """Signed in, and a data manager (CAN_MANAGE): others get the 403 page."""
    return login_required(requires(CAN_MANAGE)(view))


@_people_page
def people(request: HttpRequest) -> HttpResponse:
    return render(request, "clinics/people_list.html", {"people": selectors.people()})


@_people_page
@require_http_methods(["GET", "POST"])
def people_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if form.is_valid():
        try:
            user = services.user_invite(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{user.get_username()} was added.")
            return _issue_link(request, user)
    return render(request, "clinics/people_invite.html", {"form": form})


@_people_page
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _person_page(request, selectors.person(pk=pk), RoleForm())


@_people_page
@require_POST
def person_role_give(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.person(pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            membership = services.role_give(user=person.user, by=request.user,
                                            **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Given: {selectors.role_label(membership)}.")
            return redirect("clinics:person", pk=pk)
    return _person_page(request, person, form, status=400)


@_people_page
@require_POST
def person_role_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    person = selectors.person(pk=pk)
    membership = get_object_or_404(person.user.memberships.select_related("clinic"),
                                   pk=membership_pk)
    label = selectors.role_label(membership)
    return _act(request, pk, lambda: services.role_remove(membership=membership,
                                                          by=request.user),
                f"Removed: {label}.")


@_people_page
@require_POST
def person_active(request: HttpRequest, pk: int) -> HttpResponse:
    user = selectors.person(pk=pk).user
    active = request.POST.get("active") == "1"
    return _act(request, pk, lambda: services.user_active_set(user=user, active=active,
                                                              by=request.user),
                f"{user.get_username()} was {'reactivated' if active else 'deactivated'}.")


@_people_page
@require_POST
def person_two_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    user = selectors.person(pk=pk).user
    return _act(request, pk, lambda: services.person_two_factor_reset(user=user,
                                                                      by=request.user),
                f"The second factor of {user.get_username()} was reset: at the next sign-in "
                "they set up a new authenticator.")


@_people_page
@require_POST
def person_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    user = selectors.person(pk=pk).user
    return _act(request, pk, lambda: services.sign_in_lock_clear(user=user, by=request.user),
                f"The sign-in lock of {user.get_username()} was cleared.")


@_people_page
@require_POST
def person_link(request: HttpRequest, pk: int) -> HttpResponse:
    return _issue_link(request, selectors.person(pk=pk).user)


def _act(request: HttpRequest, pk: int, change, done: str) -> HttpResponse:
    try:
        change()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("clinics:person", pk=pk)


def _issue_link(request: HttpRequest, user) -> HttpResponse:
    """A one-time set-password link: mailed where mail is set up and the user has an
    address, otherwise shown once to the data manager to pass on. The link is recorded
    before the mail is tried: a mail failure says so and shows the link instead."""
    try:
        path = services.set_password_path(user=user, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("clinics:person", pk=user.pk)
    link = request.build_absolute_uri(path)
    if settings.PASSWORD_RESET_OFFERED and user.email:
        try:
            send_mail("Your PainCohort account", render_to_string(
                "clinics/people_link_email.txt", {"user": user, "link": link,
                                                  "hours": _link_hours()}),
                None, [user.email])
        except Exception:  # noqa: BLE001 - any mail failure: the link is shown instead
            log.exception("Set-password mail to %s failed", user.get_username())
            messages.warning(request, "The mail could not be sent: pass on this link instead.")
        else:
            messages.success(request, f"A link to set a password was mailed to {user.email}.")
            return redirect("clinics:person", pk=user.pk)
    return render(request, "clinics/people_link.html",
                  {"person_user": user, "link": link, "hours": _link_hours()})


def _person_page(request: HttpRequest, person, role_form: RoleForm,
                 status: int = 200) -> HttpResponse:
    return render(request, "clinics/people_detail.html", {
        "person": person, "role_form": role_form, "is_self": person.user.pk == request.user.pk,
        "changes": selectors.people_changes(username=person.user.get_username()),
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }, status=status)


def _link_hours() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)


class SetPasswordView(PasswordResetConfirmView):
    """The invited user's one-time link: Django's password-reset confirmation, offered
    whether or not mail is (the data manager may have passed the link on by hand)."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("clinics:set_password_done")


class SetPasswordDoneView(TemplateView):
    template_name = "registration/password_reset_complete.html"
