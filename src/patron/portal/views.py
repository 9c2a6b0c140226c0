"""The public web form at /support/new and its confirmation page. Thin: parse, check, do, render.

CSRF: this endpoint is exempt, on purpose. The form is meant to be embedded in an <iframe> on
customers' sites, where the browser treats our cookies as third-party: a SameSite=Lax CSRF cookie
is not sent at all, SameSite=None needs HTTPS, and browsers that block third-party cookies
(Safari, Firefox strict mode, Chrome's opt-in) drop it even then, so a CSRF check would refuse
real people. A forged cross-site post gains nothing a direct post does not: the view acts for
nobody (no session, no logged-in agent; the ticket's author is whoever the typed address names,
exactly as with an email), and it is bounded by the honeypot and the per-address and per-IP
rate limits. See docs/web-form.md.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from patron.core import clock
from patron.core.errors import InvalidInput
from patron.portal import services
from patron.portal.forms import WebForm
from patron.portal.services import RateLimited

logger = logging.getLogger(__name__)

TOO_MANY_REQUESTS = 429


def client_ip(request: HttpRequest) -> str:
    """The sender's address; behind a proxy, the one the nearest proxy appended."""
    if settings.PATRON_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return str(request.META.get("REMOTE_ADDR", ""))


def _embedded(request: HttpRequest) -> bool:
    return request.GET.get("embed") == "1"


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    embed = _embedded(request)
    layout = "portal/embed.html" if embed else "portal/page.html"
    response = render(
        request, template, {**context, "layout": layout, "embed": embed}, status=status
    )
    if embed:
        # Only the embeddable variant may be framed, by any site; everything else stays DENY.
        response.xframe_options_exempt = True
    return response


def _after(request: HttpRequest, url: str) -> str:
    return f"{url}?embed=1" if _embedded(request) else url


@csrf_exempt
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render(request, "portal/new.html", {"form": WebForm()})
    form = WebForm(request.POST, request.FILES)
    if form.is_bot():
        # Answer as if accepted, so the bot learns nothing; keep a trace for admins.
        logger.warning(
            "web form: honeypot filled, nothing created (ip %s)",
            services.keyed_hash("ip", client_ip(request))[:12],
        )
        return redirect(_after(request, reverse("web_form_received")))
    if not form.is_valid():
        return _render(request, "portal/new.html", {"form": form})
    try:
        ticket = services.submit_request(form.web_request(), ip=client_ip(request), now=clock.now())
    except RateLimited as error:
        context = {"form": form, "refusal": str(error)}
        response = _render(request, "portal/new.html", context, status=TOO_MANY_REQUESTS)
        response["Retry-After"] = str(error.wait_minutes * 60)
        return response
    except InvalidInput as error:
        form.add_error(None, str(error))
        return _render(request, "portal/new.html", {"form": form})
    token = services.thanks_token(ticket)
    return redirect(_after(request, reverse("web_form_thanks", args=[token])))


def thanks(request: HttpRequest, token: str) -> HttpResponse:
    number = services.number_from_thanks_token(token)
    if number is None:
        raise Http404("This confirmation link is not valid.")
    return _render(request, "portal/thanks.html", {"number": number})


def thanks_received(request: HttpRequest) -> HttpResponse:
    """Where a filled-in honeypot lands: the same words, no number."""
    return _render(request, "portal/thanks.html", {"number": None})
