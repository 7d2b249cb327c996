"""The product's own 404 page under DEBUG too.

`make run` serves with DEBUG on, where Django answers a missing object with its technical
page (URL patterns, settings); a nurse opening another clinic's patient there should see what
production shows her: the product's "Page not found", which says patients of other clinics
are not shown.
"""
from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


class ProductNotFoundMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG and isinstance(exception, Http404):
            return render(request, "404.html", status=404)
        return None  # without DEBUG, Django's handler404 renders the same template
