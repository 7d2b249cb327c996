"""The query pages (thin: parse, call a service or selector, render).

- the list: a nurse's own clinics' queries, a data manager's every clinic's (403 for
  researchers and statisticians);
- raise: data managers, prefilled from a data-quality row by its "Raise query" link;
- a query: its thread, with the answer form (the clinic's nurses), the close and re-open
  forms (data managers); another clinic's nurse gets 404.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import add_service_errors
from core.permissions import CAN_RAISE_QUERIES, CAN_VIEW_QUERIES, requires
from patients.selectors import get_patient_for_user
from patients.services import patient_access_record
from questionnaires.models import Administration, Timepoint

from . import selectors, services
from .forms import QueryAnswerForm, QueryCloseForm, QueryRaiseForm, QueryReopenForm
from .models import Query

LIST_LIMIT = 500
NO_ACCESS = "Your role does not give access to queries."
STATUS_FILTERS = [("", "Unclosed"), ("open", "Open"), ("answered", "Answered"),
                  ("closed", "Closed"), ("all", "All")]


@login_required
@require_GET
@requires(CAN_VIEW_QUERIES, NO_ACCESS)
def query_list(request: HttpRequest) -> HttpResponse:
    status, clinic = request.GET.get("status", ""), request.GET.get("clinic", "")
    queries = selectors.filter_queries(selectors.queries_for_user(user=request.user),
                                       status=status, clinic=clinic)
    return render(request, "dataqueries/query_list.html", {
        "queries": queries[:LIST_LIMIT], "total": queries.count(), "limit": LIST_LIMIT,
        "status": status, "clinic": clinic,
        "filters": STATUS_FILTERS, "can_raise": selectors.may_raise_queries(user=request.user)})


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                              require_https=request.is_secure())
    return target if allowed else ""


def _prefill(request: HttpRequest) -> dict:
    fields = ("study_id", "timepoint", "item", "text", "source")
    return {name: request.GET[name] for name in fields if request.GET.get(name)}


@login_required
@require_http_methods(["GET", "POST"])
@requires(CAN_RAISE_QUERIES, "Only data managers raise queries.")
def query_raise(request: HttpRequest) -> HttpResponse:
    form = QueryRaiseForm(request.POST or None, initial=_prefill(request))
    if request.method == "POST" and form.is_valid():
        query = _raise(request, form)
        if query is not None:
            return redirect(_safe_next(request) or query_url(query))
    return render(request, "dataqueries/query_raise.html",
                  {"form": form, "next": _safe_next(request)})


def _raise(request: HttpRequest, form: QueryRaiseForm) -> Query | None:
    data = form.cleaned_data
    try:
        patient = get_patient_for_user(user=request.user, study_id=data["study_id"])
    except Http404:
        form.add_error("study_id", f"No patient with study ID {data['study_id']}.")
        return None
    administration = None
    if data["timepoint"]:
        administration = Administration.objects.filter(
            patient=patient, timepoint=data["timepoint"]).first()
        if administration is None:
            label = Timepoint(data["timepoint"]).label.lower()
            form.add_error("timepoint", f"{patient.study_id} has no {label} questionnaire "
                                        "entered.")
            return None
    try:
        query, created = services.query_raise(
            patient=patient, administration=administration, item=data["item"],
            text=data["text"], source=data["source"], raise_key=data["raise_key"],
            by=request.user)
    except ValidationError as error:
        add_service_errors(form, error)
        return None
    messages.success(request, f"Query {query.pk} on {patient.study_id} raised." if created
                     else f"Query {query.pk} on {patient.study_id} was already raised "
                          "from this form: it is raised once.")
    return query


def query_url(query: Query) -> str:
    return reverse("dataqueries:detail", kwargs={"query_id": query.pk})


def _forms(**bound: forms.Form) -> dict[str, forms.Form]:
    return {"answer_form": bound.get("answer_form") or QueryAnswerForm(prefix="answer"),
            "close_form": bound.get("close_form") or QueryCloseForm(prefix="close"),
            "reopen_form": bound.get("reopen_form") or QueryReopenForm(prefix="reopen")}


def _detail(request: HttpRequest, query: Query, **bound: forms.Form) -> HttpResponse:
    patient_access_record(patient=query.patient, user=request.user,
                          path=request.get_full_path())
    return render(request, "dataqueries/query_detail.html", {
        "query": query, "patient": query.patient, "thread": selectors.query_thread(query),
        "value": selectors.current_value(query),
        "can_answer": selectors.may_answer(user=request.user, query=query),
        "can_manage": selectors.may_raise_queries(user=request.user),
        **_forms(**bound)})


@login_required
@require_GET
@requires(CAN_VIEW_QUERIES, NO_ACCESS)
def query_detail(request: HttpRequest, query_id: int) -> HttpResponse:
    query = selectors.get_query_for_user(user=request.user, query_id=query_id)
    return _detail(request, query)


def _act(request: HttpRequest, query_id: int, form_name: str, form: forms.Form, step,
         done: str) -> HttpResponse:
    """Run one step of the query's state machine from its form; the page again on error."""
    query = selectors.get_query_for_user(user=request.user, query_id=query_id)
    if form.is_valid():
        try:
            step(query, form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, done.format(pk=query.pk))
            return redirect(query_url(query))
    query.refresh_from_db()  # show the state the service found, not the one posted against
    return _detail(request, query, **{form_name: form})


@login_required
@require_POST
@requires(CAN_VIEW_QUERIES, NO_ACCESS)
def query_answer(request: HttpRequest, query_id: int) -> HttpResponse:
    def step(query, data):
        services.query_answer(query=query, by=request.user, text=data["text"])

    return _act(request, query_id, "answer_form", QueryAnswerForm(request.POST, prefix="answer"),
                step, "Answer to query {pk} saved: the data manager will review it.")


@login_required
@require_POST
@requires(CAN_RAISE_QUERIES, "Only data managers close queries.")
def query_close(request: HttpRequest, query_id: int) -> HttpResponse:
    def step(query, data):
        services.query_close(query=query, by=request.user, outcome=data["outcome"],
                             reason=data["reason"])

    return _act(request, query_id, "close_form", QueryCloseForm(request.POST, prefix="close"),
                step, "Query {pk} closed.")


@login_required
@require_POST
@requires(CAN_RAISE_QUERIES, "Only data managers re-open queries.")
def query_reopen(request: HttpRequest, query_id: int) -> HttpResponse:
    def step(query, data):
        services.query_reopen(query=query, by=request.user, text=data["text"])

    return _act(request, query_id, "reopen_form",
                QueryReopenForm(request.POST, prefix="reopen"), step,
                "Query {pk} re-opened: the clinic is asked again.")
