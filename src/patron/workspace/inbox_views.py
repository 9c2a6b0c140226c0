"""The inbox pages: views with counts, the sorted and paged list, bulk actions, saved views.
Thin: parse, check, call inbox/services, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from patron import conditions
from patron.core import clock
from patron.core.errors import InvalidInput, NotAllowed, PatronError
from patron.people import permissions
from patron.people.models import AgentProfile, Team
from patron.sla import badges as sla_badges
from patron.tickets import bulk, inbox, saved_views
from patron.tickets.models import Priority, SavedView, Status

CONDITION_ROWS = 5  # empty condition rows offered on the saved-view form


def _agent_user(request: HttpRequest) -> User:
    if not permissions.is_agent(request.user):
        raise NotAllowed("Only agents can see the ticket list.")
    assert isinstance(request.user, User)
    return request.user


def _page_url(view_key: str, sort: str, **cursor: str | None) -> str:
    params = {"view": view_key, "sort": sort, **{k: v for k, v in cursor.items() if v}}
    return f"?{urlencode(params)}"


def _columns(view: inbox.ActiveView, key: str, descending: bool) -> list[dict[str, str]]:
    """Each shown column with the link that sorts by it (again: the other way round)."""
    columns = []
    for column in view.columns:
        entry = {"key": column, "label": inbox.COLUMNS[column], "url": "", "aria_sort": "none"}
        if column in inbox.SORTS:
            flip = column == key and not descending
            entry["url"] = _page_url(view.key, f"{'-' if flip else ''}{column}")
            if column == key:
                entry["aria_sort"] = "descending" if descending else "ascending"
        columns.append(entry)
    return columns


@login_required
@require_GET
def inbox_page(request: HttpRequest) -> HttpResponse:
    user = _agent_user(request)
    now = clock.now()
    saved_views = list(inbox.saved_views_for(user).select_related("shared_with_team", "owner"))
    view = inbox.resolve_view(user, request.GET.get("view", ""), now=now)
    sort = request.GET.get("sort", "")
    key, descending = inbox.parse_sort(sort, view.sort)
    error = view.error
    page = inbox.Page(tickets=[], newer=None, older=None)
    try:
        tickets = inbox.list_tickets(inbox.base_tickets(user).filter(view.q))
        page = inbox.paginate(
            tickets,
            key=key,
            descending=descending,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            size=inbox.PAGE_SIZE,
        )
    except InvalidInput as invalid:
        error = str(invalid)
    counts = inbox.view_counts(user, saved_views, now=now)
    if "sla" in view.columns:
        next_due = sla_badges.for_tickets([t.pk for t in page.tickets], now=now)
        for ticket in page.tickets:
            ticket.sla_badge = next_due.get(ticket.pk)  # type: ignore[attr-defined]
    sort_param = f"{'-' if descending else ''}{key}"
    context: dict[str, Any] = {
        "view": view,
        "builtin_rows": [(b, counts.get(b.key)) for b in inbox.BUILTIN_VIEWS],
        "saved_rows": [(s, counts.get(f"{inbox.SAVED_PREFIX}{s.pk}")) for s in saved_views],
        "counts": counts,
        "page": page,
        "error": error,
        "sort": sort_param,
        "sort_key": key,
        "descending": descending,
        "columns": _columns(view, key, descending),
        "older_url": _page_url(view.key, sort_param, after=page.older) if page.older else "",
        "newer_url": _page_url(view.key, sort_param, before=page.newer) if page.newer else "",
        "column_keys": view.columns,
        "may_bulk": bulk.may_bulk_change(user),
        "agents": AgentProfile.objects.select_related("user").order_by("user__username"),
        "teams": Team.objects.all(),
        "statuses": [(v, label) for v, label in Status.choices if v != Status.NEW],
        "priorities": Priority.choices,
        "here": request.get_full_path(),
    }
    template = "tickets/inbox_table.html" if request.headers.get("HX-Request") else None
    return render(request, template or "tickets/inbox.html", context)


@login_required
@require_GET
def inbox_counts(request: HttpRequest) -> JsonResponse:
    """{view key: count} for the sidebar, for pages that refresh counts live."""
    user = _agent_user(request)
    saved_views = list(inbox.saved_views_for(user))
    return JsonResponse(inbox.view_counts(user, saved_views, now=clock.now()))


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("ticket_list")


@login_required
@require_POST
def inbox_bulk(request: HttpRequest) -> HttpResponse:
    user = _agent_user(request)
    numbers = [int(n) for n in request.POST.getlist("tickets") if n.isdigit()]
    try:
        result = bulk.bulk_apply(
            numbers,
            request.POST.get("action", ""),
            {key: request.POST.get(key, "") for key in bulk.BULK_PARAMS},
            actor=user,
            now=clock.now(),
        )
    except PatronError as error:
        messages.error(request, str(error))
    else:
        level = messages.SUCCESS if not result.skipped else messages.WARNING
        messages.add_message(request, level, result.message())
    return redirect(_back(request))


# Saved views


def _rows_from(request: HttpRequest) -> list[dict[str, Any]]:
    """The condition rows of the form; empty rows are left out, the engine checks the rest."""
    rows: list[dict[str, Any]] = []
    for n in range(int(request.POST.get("rows", CONDITION_ROWS))):
        field_name = request.POST.get(f"field-{n}", "").strip()
        if field_name:
            op = request.POST.get(f"op-{n}", "eq")
            rows.append(
                {"field": field_name, "op": op, "value": request.POST.get(f"value-{n}", "")}
            )
    return rows


def _saved_view_form(
    request: HttpRequest,
    user: User,
    view: SavedView | None,
    error: str = "",
    rows: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    if rows is None:
        rule = view.rule if view and isinstance(view.rule, dict) else {}
        rows = list(rule.get("all", []))
    shown = [
        {
            **condition,
            "value": ", ".join(map(str, v)) if isinstance(v := condition.get("value"), list) else v,
        }
        for condition in rows
    ]
    shown += [{"field": "", "op": "eq", "value": ""}] * CONDITION_ROWS
    try:
        sentence = conditions.describe("ticket", {"all": rows}) if rows and not error else ""
    except InvalidInput:
        sentence = ""
    return render(
        request,
        "tickets/inbox_view_form.html",
        {
            "saved": view,
            "error": error,
            "sentence": sentence,
            "rows": list(enumerate(shown)),
            "row_count": len(shown),
            "fields": conditions.field_names("ticket"),
            "ops": conditions.OPS,
            "teams": saved_views.teams_to_share_with(user),
            "sorts": list(inbox.SORTS),
            "columns": list(inbox.COLUMNS.items()),
            "chosen_columns": (view.columns if view and view.columns else list(inbox.COLUMNS)),
        },
        status=400 if error else 200,
    )


def _save(request: HttpRequest, user: User, view: SavedView | None) -> HttpResponse:
    rows = _rows_from(request)
    direction = "-" if request.POST.get("direction", "desc") == "desc" else ""
    team_id = request.POST.get("shared_with_team", "")
    teams = {str(team.pk): team for team in saved_views.teams_to_share_with(user)}
    try:
        if team_id and team_id not in teams:
            raise InvalidInput("You can share a view only with a team you are in.")
        view = saved_views.save_view(
            view,
            actor=user,
            name=request.POST.get("name", ""),
            rule={"all": rows},
            sort=f"{direction}{request.POST.get('sort', 'updated')}",
            columns=request.POST.getlist("columns"),
            team=teams.get(team_id),
        )
    except InvalidInput as invalid:
        return _saved_view_form(request, user, view, error=str(invalid), rows=rows)
    messages.success(request, f"Saved the view {view.name!r}.")
    return redirect(f"{reverse('ticket_list')}?view={inbox.SAVED_PREFIX}{view.pk}")


@login_required
def saved_view_create(request: HttpRequest) -> HttpResponse:
    user = _agent_user(request)
    if request.method == "POST":
        return _save(request, user, None)
    return _saved_view_form(request, user, None)


@login_required
def saved_view_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _agent_user(request)
    view = get_object_or_404(inbox.saved_views_for(user), pk=pk)
    inbox.check_edit_saved_view(user, view)
    if request.method == "POST":
        return _save(request, user, view)
    return _saved_view_form(request, user, view)


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _agent_user(request)
    view = get_object_or_404(inbox.saved_views_for(user), pk=pk)
    name = view.name
    saved_views.delete_view(view, actor=user)
    messages.success(request, f"Deleted the view {name!r}.")
    return redirect("ticket_list")
