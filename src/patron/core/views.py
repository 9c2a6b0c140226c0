"""Pages that belong to no single app: home, health, and the 403 page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render


def home(request: HttpRequest) -> HttpResponse:
    return redirect("ticket_list")


def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and `patron check`: answers 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    return render(
        request,
        "patron/403.html",
        {"reason": reason or "You do not have access to this page."},
        status=403,
    )
