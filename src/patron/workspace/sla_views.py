"""The SLA report for supervisors and admins: compliance over a period by policy, metric,
segment, team or agent, the breaches behind it, and both as CSV. Thin: parse the period and
filters, check the role, ask `patron.sla.reports`, render."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from patron.core import clock
from patron.core.errors import InvalidInput
from patron.notifications.digest import time_zone_of
from patron.people import permissions
from patron.people.models import Team
from patron.sla import badges, reports
from patron.sla.models import SlaPolicy
from patron.sla.reports import BreachRow, ComplianceRow, Filters, GroupBy

BREACHES_PER_PAGE = 50
PRESETS = (7, 30, 90)  # "last N days", today included
DEFAULT_DAYS = 30
BAD_REQUEST = 400
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

GROUP_LABELS = {
    "policy": "Policy",
    "metric": "Metric",
    "segment": "Segment",
    "team": "Team",
    "agent": "Agent",
}

COMPLIANCE_COLUMNS = (
    "group",
    "clocks",
    "achieved",
    "breached",
    "compliance_percent",
    "measure",
    "median_minutes",
    "p90_minutes",
    "note",
)
BREACH_COLUMNS = (
    "ticket",
    "subject",
    "requester",
    "organization",
    "relationship",
    "policy",
    "metric",
    "cycle",
    "measure",
    "target_minutes",
    "breached_at",
    "stopped_at",
    "over_minutes",
    "paused_minutes",
    "status",
    "assignee",
    "team",
    "reason",
)


def check_see_sla_report(user: permissions.AnyUser) -> User:
    permissions.check_see_reports(user)
    assert isinstance(user, User)
    return user


@dataclass
class ReportQuery:
    """The period (local dates, both included), the grouping and the filters of a request."""

    first_day: date
    last_day: date
    days: int | None  # the preset chosen, None for dates
    group_by: GroupBy
    filters: Filters
    zone: tzinfo
    errors: list[str] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.zone)

    @property
    def slug(self) -> str:
        return f"{self.first_day:%Y%m%d}-{self.last_day:%Y%m%d}"


def parse(query: Mapping[str, str], *, now: datetime, zone: tzinfo) -> ReportQuery:
    """Read the request; anything unreadable becomes an error sentence and its default."""
    errors: list[str] = []
    today = now.astimezone(zone).date()
    days: int | None = DEFAULT_DAYS
    first = last = None
    if query.get("period", "") == "dates" or query.get("from") or query.get("to"):
        days = None
        first = _date(query.get("from", ""), "From", errors)
        last = _date(query.get("to", ""), "To", errors)
        if first and last and last < first:
            errors.append("The period's last day is before its first day.")
            first = last = None
    elif query.get("period"):
        days = _whole(query["period"], "Period", errors, choices=PRESETS) or DEFAULT_DAYS
    if first is None or last is None:
        days = days or DEFAULT_DAYS
        first, last = today - timedelta(days=days - 1), today
    group = query.get("group") or "policy"
    if group not in reports.GROUP_KINDS:
        errors.append(f"Group by one of {', '.join(reports.GROUP_KINDS)}, not {group!r}.")
        group = "policy"
    group_by = cast(GroupBy, group)
    filters = Filters(
        policy=_whole(query.get("policy", ""), "Policy", errors),
        metric=query.get("metric") or None,
        segment=query.get("segment") or None,
        team=_whole(query.get("team", ""), "Team", errors),
        assignee=_whole(query.get("agent", ""), "Agent", errors),
    )
    return ReportQuery(first, last, days, group_by, filters, zone, errors)


def _date(value: str, label: str, errors: list[str]) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.append(
            f"{label}: {value!r} is not a date; use YYYY-MM-DD."
            if value
            else f"{label}: choose a day."
        )
        return None


def _whole(value: str, label: str, errors: list[str], *, choices: Sequence[int] = ()) -> int | None:
    if not value:
        return None
    if value.isdigit() and (not choices or int(value) in choices):
        return int(value)
    errors.append(f"{label}: {value!r} is not one of the choices.")
    return None


def _asked(request: HttpRequest) -> tuple[ReportQuery, datetime]:
    """What a supervisor or admin asked for, and the instant the report is made at."""
    user = check_see_sla_report(request.user)
    now = clock.now()
    return parse(request.GET, now=now, zone=time_zone_of(user.agent)), now


@login_required
@require_GET
def sla_report(request: HttpRequest) -> HttpResponse:
    asked, now = _asked(request)
    rows: list[ComplianceRow] = []
    page = None
    breaches: list[BreachRow] = []
    if not asked.errors:
        try:
            rows = reports.compliance(
                asked.start, asked.end, group_by=asked.group_by, filters=asked.filters
            )
            clocks = reports.breach_clocks(asked.start, asked.end, asked.filters)
            page = Paginator(clocks, BREACHES_PER_PAGE).get_page(request.GET.get("page"))
            breaches = list(reports.breach_rows(page.object_list, now=now))
        except InvalidInput as refused:
            asked.errors.append(str(refused))
    context = {
        "asked": asked,
        # Each row with the filter that shows its group alone.
        "rows": [(row, {asked.group_by: row.key}) for row in rows],
        "page": page,
        "breaches": breaches,
        "presets": PRESETS,
        "groups": list(GROUP_LABELS.items()),
        "group_label": GROUP_LABELS[asked.group_by],
        "policies": SlaPolicy.objects.order_by("position", "id"),
        "metrics": list(badges.METRIC_NAMES.items()),
        "segments": reports.segment_choices(),
        "teams": Team.objects.all(),
        "zone_name": str(asked.zone),
    }
    with timezone.override(asked.zone):
        return render(
            request,
            "workspace/sla_report.html",
            context,
            status=BAD_REQUEST if asked.errors else 200,
        )


@login_required
@require_GET
def sla_compliance_csv(request: HttpRequest) -> HttpResponseBase:
    asked, _ = _asked(request)
    try:
        _check(asked)
        rows = reports.compliance(
            asked.start, asked.end, group_by=asked.group_by, filters=asked.filters
        )
    except InvalidInput as refused:
        return _refused(refused)
    lines = (_compliance_line(row) for row in rows)
    return _csv(COMPLIANCE_COLUMNS, lines, f"sla-compliance-{asked.group_by}-{asked.slug}.csv")


@login_required
@require_GET
def sla_breaches_csv(request: HttpRequest) -> HttpResponseBase:
    asked, now = _asked(request)
    try:
        _check(asked)
        clocks = reports.breach_clocks(asked.start, asked.end, asked.filters)
    except InvalidInput as refused:
        return _refused(refused)
    rows = reports.breach_rows(clocks.iterator(chunk_size=BREACHES_PER_PAGE * 10), now=now)
    lines = (_breach_line(row, asked.zone) for row in rows)
    return _csv(BREACH_COLUMNS, lines, f"sla-breaches-{asked.slug}.csv")


def _check(asked: ReportQuery) -> None:
    if asked.errors:
        raise InvalidInput(" ".join(asked.errors))


def _refused(error: InvalidInput) -> HttpResponse:
    return HttpResponse(str(error), status=BAD_REQUEST, content_type="text/plain; charset=utf-8")


# --- CSV ----------------------------------------------------------------------------------


def safe_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _number(value: float | None) -> object:
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else round(value, 2)


def _compliance_line(row: ComplianceRow) -> list[object]:
    return [
        row.group,
        row.clocks,
        row.achieved,
        row.breached,
        _number(row.compliance),
        row.measure,
        _number(row.median_minutes),
        _number(row.p90_minutes),
        row.note,
    ]


def _breach_line(row: BreachRow, zone: tzinfo) -> list[object]:
    return [
        row.ticket_number,
        row.subject,
        row.requester,
        row.organization,
        row.relationship,
        row.policy,
        row.metric,
        row.cycle,
        row.measure,
        _number(row.target_minutes),
        row.breached_at.astimezone(zone).isoformat(),
        row.stopped_at.astimezone(zone).isoformat() if row.stopped_at else "",
        _number(row.over_minutes),
        _number(row.paused_minutes),
        row.status,
        row.assignee,
        row.team,
        row.reason,
    ]


class _Line:
    """The file-like object csv.writer writes one line to at a time."""

    def write(self, value: str) -> str:
        return value


def _csv(
    header: Sequence[str], lines: Iterable[Sequence[object]], filename: str
) -> StreamingHttpResponse:
    writer = csv.writer(_Line())

    def stream() -> Iterator[str]:
        yield writer.writerow(header)
        for line in lines:
            yield writer.writerow([safe_cell(value) for value in line])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
