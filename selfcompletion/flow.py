"""The patient's pages, shared by the tablet and the link: one part per instrument, a
review, submit. The views around them decide which invitation and which URLs."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from questionnaires.wording import item_wordings

from . import parts
from .models import Invitation
from .services import InvitationClosed, invitation_draft_save, invitation_submit

ACTION_BACK = "back"


@dataclass(frozen=True)
class FlowUrls:
    part: Callable[[int], str]
    review: str
    submitted: str
    closed: str  # where a closed invitation sends the patient (its state page)


def part_url(questions_url: str, number: int) -> str:
    return f"{questions_url}?part={number}"


def part_number(request: HttpRequest) -> int:
    """The part asked for (?part=N); anything else is part 1."""
    value = request.GET.get("part", "1")
    return int(value) if value.isdigit() and len(value) < 3 else 1


def _wordings_for(instrument) -> tuple[dict[str, str], bool]:
    """Full wording by item, and whether any item falls back to its short (demo) label."""
    loaded = item_wordings()
    wordings = {item.code: loaded.get(item.code) or item.label for item in instrument.items}
    return wordings, any(not loaded.get(code) for code in instrument.item_codes)


def resume_url(invitation: Invitation, urls: FlowUrls) -> str:
    number = parts.first_unanswered_part(invitation.draft)
    return urls.part(number) if number else urls.review


def part_page(request: HttpRequest, invitation: Invitation, number: int, urls: FlowUrls,
              base: str) -> HttpResponse:
    instrument = parts.part(number)
    if instrument is None:
        return redirect(urls.part(1))
    error = ""
    if request.method == "POST":
        try:
            answers = parts.clean_part_answers(instrument, request.POST)
            invitation_draft_save(invitation=invitation, answers=answers)
        except InvitationClosed:
            return redirect(urls.closed)
        except ValidationError as problem:
            error = problem.messages[0]
        else:
            return redirect(_after_part(request, number, urls))
    wordings, demo = _wordings_for(instrument)
    items = [{"item": item, "wording": wordings[item.code],
              "value": str(invitation.draft.get(item.code, "")),
              "choices": [str(value) for value in item.values]}
             for item in instrument.items]
    return render(request, "selfcompletion/part.html", {
        "base": base, "instrument": instrument, "items": items, "number": number,
        "total": len(parts.PARTS), "error": error, "demo_wording": demo,
        "back_url": urls.part(number - 1) if number > 1 else "", "skip": parts.SKIP,
    }, status=400 if error else 200)


def _after_part(request: HttpRequest, number: int, urls: FlowUrls) -> str:
    if request.POST.get("action") == ACTION_BACK and number > 1:
        return urls.part(number - 1)
    return urls.part(number + 1) if number < len(parts.PARTS) else urls.review


def review_page(request: HttpRequest, invitation: Invitation, urls: FlowUrls, base: str,
                *, by=None) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            invitation_submit(invitation=invitation, by=by)
        except InvitationClosed:
            return redirect(urls.closed)
        except ValidationError as problem:
            # Nothing answered yet, or a data-entry rule refused the answers: nothing stored.
            error = (problem.messages[0] if not invitation.draft else
                     "Your answers could not be sent. Please ask the clinic team; your "
                     "answers so far are kept.")
        else:
            return redirect(urls.submitted)
    sections = []
    for number, instrument in enumerate(parts.PARTS, start=1):
        wordings, _ = _wordings_for(instrument)
        sections.append({"number": number, "instrument": instrument,
                         "url": urls.part(number),
                         "rows": parts.review_rows(instrument, invitation.draft, wordings)})
    return render(request, "selfcompletion/review.html", {
        "base": base, "sections": sections,
        "unanswered": parts.unanswered_count(invitation.draft), "error": error,
    }, status=400 if error else 200)
