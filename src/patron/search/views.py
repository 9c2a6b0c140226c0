"""The search page: parse the query string, ask `queries.query`, render. Agents only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from patron.core.errors import InvalidInput, NotAllowed
from patron.people import permissions
from patron.search import queries
from patron.search.forms import SearchForm


@login_required
def search(request: HttpRequest) -> HttpResponse:
    if not permissions.is_agent(request.user):
        raise NotAllowed("Only agents can search the desk.")
    form = SearchForm(request.GET.dict())
    page = queries.Page()
    error = ""
    if form.is_valid() and form.cleaned_data["q"].strip():
        try:
            page = queries.query(
                form.cleaned_data["q"],
                user=request.user,
                kinds=form.kinds(),
                filters=form.filters(),
                cursor=request.GET.get("cursor") or None,
            )
        except InvalidInput as problem:
            error = str(problem)
    more = request.GET.copy()
    more.pop("cursor", None)
    if page.next_cursor:
        more["cursor"] = page.next_cursor
    return render(
        request,
        "search/search.html",
        {
            "form": form,
            "page": page,
            "error": error,
            "q": form.cleaned_data.get("q", "") if form.is_bound and form.is_valid() else "",
            "more_query": more.urlencode(),
            "continued": bool(request.GET.get("cursor")),
        },
    )
