"""Scenario tests: a ticket's timeline in, its clocks out, each expectation counted by hand
(docs/sla.md, "What the clocks do"). The calendar is Monday-Friday 09:00-17:00 UTC unless a
test says otherwise, so business minutes can be counted on one's fingers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time

from patron.sla.calendar import Calendar
from patron.sla.engine import Clock, Event, MetricPolicy, Policy, evaluate

NINE_TO_FIVE = ((time(9), time(17)),)
OFFICE = Calendar("UTC", (NINE_TO_FIVE,) * 5 + ((), ()), frozenset({date(2026, 1, 1)}))


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An instant in January 2026 (Monday the 5th, Friday the 9th, Monday the 12th)."""
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


def policy(
    *,
    measure: str = "business",
    targets: Mapping[str, Mapping[str, float]] | None = None,
    warnings: Mapping[str, tuple[float, ...]] | None = None,
    pauses: Mapping[str, set[str]] | None = None,
    calendar: Calendar = OFFICE,
) -> Policy:
    targets = targets or {
        "first_reply": {"normal": 60, "urgent": 30},
        "next_reply": {"normal": 120, "urgent": 60},
        "periodic_update": {"normal": 240, "urgent": 120},
        "resolution": {"normal": 480, "urgent": 240},
    }
    return Policy(
        metrics={
            metric: MetricPolicy(measure, by_priority, (warnings or {}).get(metric, ()))
            for metric, by_priority in targets.items()
        },
        pause_rules={metric: frozenset(statuses) for metric, statuses in (pauses or {}).items()},
        calendar=calendar,
    )


def created(when: datetime, priority: str = "normal") -> Event:
    return Event(when, "created", priority=priority)


def reply(when: datetime) -> Event:
    return Event(when, "agent_public_reply")


def message(when: datetime) -> Event:
    return Event(when, "requester_message")


def status(when: datetime, value: str) -> Event:
    return Event(when, "status_change", status=value)


def priority(when: datetime, value: str) -> Event:
    return Event(when, "priority_change", priority=value)


def clock(clocks: Sequence[Clock], metric: str, cycle: int = 1) -> Clock:
    found = [c for c in clocks if c.metric == metric and c.cycle == cycle]
    assert found, f"no {metric} cycle {cycle} among {[(c.metric, c.cycle) for c in clocks]}"
    return found[0]


# --- first reply ---------------------------------------------------------------------------


def test_first_reply_due_skips_the_weekend_and_a_holiday() -> None:
    office = Calendar("UTC", (NINE_TO_FIVE,) * 5 + ((), ()), frozenset({date(2026, 1, 12)}))
    timeline = [created(at(9, 16, 30))]  # Friday 16:30; Monday the 12th is a holiday
    first = clock(evaluate(policy(calendar=office), timeline, at=at(10, 12)), "first_reply")
    assert first.state == "active"
    assert first.counted_minutes == 30
    assert first.due_at == at(13, 9, 30)  # 30 min Friday, 30 min Tuesday


def test_first_reply_is_achieved_by_the_first_public_reply() -> None:
    timeline = [created(at(5, 9)), reply(at(5, 9, 45)), reply(at(5, 11))]
    first = clock(evaluate(policy(), timeline, at=at(5, 12)), "first_reply")
    assert (first.state, first.achieved_at, first.counted_minutes) == ("achieved", at(5, 9, 45), 45)
    assert first.due_at == at(5, 10)


def test_a_reply_exactly_at_the_due_instant_is_achieved() -> None:
    timeline = [created(at(5, 9)), reply(at(5, 10))]
    first = clock(evaluate(policy(), timeline, at=at(5, 12)), "first_reply")
    assert first.state == "achieved" and first.breached_at is None


def test_a_reply_a_second_late_is_a_breach_at_the_due_instant() -> None:
    timeline = [created(at(5, 9)), reply(at(5, 10, 0, 1))]
    first = clock(evaluate(policy(), timeline, at=at(5, 12)), "first_reply")
    assert (first.state, first.breached_at, first.stopped_at) == (
        "breached",
        at(5, 10),
        at(5, 10, 0, 1),
    )
    assert first.counted_minutes == 60 + 1 / 60


def test_a_target_that_fills_at_closing_time_breaches_at_closing_time() -> None:
    timeline = [created(at(9, 16))]  # Friday 16:00, 60 business minutes
    first = clock(evaluate(policy(), timeline, at=at(10, 12)), "first_reply")
    assert (first.state, first.breached_at) == ("breached", at(9, 17))


def test_a_breach_is_final() -> None:
    timeline = [
        created(at(5, 9)),
        priority(at(5, 11), "low"),  # no target for low: too late to cancel
        reply(at(5, 12)),
    ]
    first = clock(evaluate(policy(), timeline, at=at(5, 13)), "first_reply")
    assert (first.state, first.breached_at, first.target_minutes) == ("breached", at(5, 10), 60)


def test_the_breach_is_seen_at_the_due_instant_itself() -> None:
    timeline = [created(at(5, 9))]
    assert clock(evaluate(policy(), timeline, at=at(5, 10)), "first_reply").state == "breached"
    assert clock(evaluate(policy(), timeline, at=at(5, 9, 59)), "first_reply").state == "active"


def test_pending_pauses_resolution_but_not_first_reply() -> None:
    rules = policy(pauses={"resolution": {"pending"}})
    timeline = [created(at(5, 9)), status(at(5, 9, 10), "pending")]
    clocks = evaluate(rules, timeline, at=at(5, 9, 40))
    first, resolution = clock(clocks, "first_reply"), clock(clocks, "resolution")
    assert (first.state, first.counted_minutes, first.paused_minutes) == ("active", 40, 0)
    assert (resolution.state, resolution.counted_minutes) == ("paused", 10)
    assert (resolution.paused_minutes, resolution.paused_business_minutes) == (30, 30)
    assert resolution.pauses == ((at(5, 9, 10), None),)
    assert resolution.due_at == at(6, 9, 30)  # if resumed now: 470 business minutes left
    assert resolution.warnings_at == ()


def test_paused_minutes_are_counted_in_real_and_business_time() -> None:
    rules = policy(pauses={"resolution": {"pending"}})
    timeline = [created(at(9, 16)), status(at(9, 16, 30), "pending"), message(at(12, 10))]
    resolution = clock(evaluate(rules, timeline, at=at(12, 11)), "resolution")
    assert resolution.pauses == ((at(9, 16, 30), at(12, 10)),)
    assert resolution.paused_minutes == 2 * 24 * 60 + 17 * 60 + 30  # Fri 16:30 - Mon 10:00
    assert resolution.paused_business_minutes == 30 + 60
    assert resolution.counted_minutes == 30 + 60  # Friday 16:00-16:30, Monday 10:00-11:00


def test_a_requester_message_reopens_a_pending_ticket_at_its_instant() -> None:
    rules = policy(pauses={"resolution": {"pending"}})
    timeline = [created(at(5, 9)), status(at(5, 10), "pending"), message(at(5, 12))]
    resolution = clock(evaluate(rules, timeline, at=at(5, 13)), "resolution")
    assert (resolution.state, resolution.counted_minutes) == ("active", 120)
    assert resolution.pauses == ((at(5, 10), at(5, 12)),)


# --- next reply and periodic update --------------------------------------------------------


def test_next_reply_measures_from_the_oldest_unanswered_message() -> None:
    timeline = [
        created(at(5, 9)),
        reply(at(5, 9, 30)),
        message(at(5, 10)),
        message(at(5, 11)),  # a second message does not restart the cycle
        reply(at(5, 11, 30)),
        message(at(5, 14)),
    ]
    clocks = evaluate(policy(), timeline, at=at(5, 15))
    first_cycle, second_cycle = clock(clocks, "next_reply", 1), clock(clocks, "next_reply", 2)
    assert (first_cycle.started_at, first_cycle.state, first_cycle.counted_minutes) == (
        at(5, 10),
        "achieved",
        90,
    )
    assert (second_cycle.started_at, second_cycle.state, second_cycle.due_at) == (
        at(5, 14),
        "active",
        at(5, 16),
    )


def test_messages_before_the_first_reply_start_no_next_reply_cycle() -> None:
    timeline = [created(at(5, 9)), message(at(5, 9, 10)), reply(at(5, 9, 30))]
    clocks = evaluate(policy(), timeline, at=at(5, 12))
    assert not [c for c in clocks if c.metric == "next_reply"]


def test_periodic_update_runs_from_each_public_reply_to_the_next() -> None:
    timeline = [
        created(at(5, 9)),
        reply(at(5, 10)),
        reply(at(5, 13)),
        reply(at(5, 17, 30)),  # after hours, but 240 business minutes since 13:00 filled at 17:00
    ]
    clocks = evaluate(policy(), timeline, at=at(6, 10))
    cycles = [c for c in clocks if c.metric == "periodic_update"]
    assert [(c.cycle, c.started_at, c.state) for c in cycles] == [
        (1, at(5, 10), "achieved"),
        (2, at(5, 13), "breached"),
        (3, at(5, 17, 30), "active"),
    ]
    assert cycles[0].counted_minutes == 180
    assert cycles[1].breached_at == at(5, 17)  # 240 business minutes fill at closing time
    assert cycles[2].counted_minutes == 60 and cycles[2].due_at == at(6, 13)


def test_there_is_no_periodic_update_before_the_first_reply() -> None:
    clocks = evaluate(policy(), [created(at(5, 9))], at=at(5, 12))
    assert not [c for c in clocks if c.metric == "periodic_update"]


# --- resolution, solving, reopening, closing -----------------------------------------------


def test_a_reopen_resumes_resolution_with_its_minutes_kept() -> None:
    timeline = [
        created(at(5, 9)),
        Event(at(5, 11), "solved"),
        Event(at(6, 9), "reopened"),
    ]
    solved = clock(evaluate(policy(), [*timeline[:2]], at=at(5, 12)), "resolution")
    assert (solved.state, solved.achieved_at, solved.counted_minutes) == (
        "achieved",
        at(5, 11),
        120,
    )
    reopened = clock(evaluate(policy(), timeline, at=at(6, 10)), "resolution")
    assert (reopened.state, reopened.counted_minutes, reopened.achieved_at) == ("active", 180, None)
    assert reopened.due_at == at(6, 15)  # 480 - 180 = 300 minutes from now, 10:00
    assert reopened.pauses == ()  # solved time is not a pause: the clock had stopped


def test_solving_pauses_the_reply_clocks_and_closing_cancels_them() -> None:
    timeline = [created(at(5, 9)), Event(at(5, 9, 20), "solved")]
    first = clock(evaluate(policy(), timeline, at=at(5, 12)), "first_reply")
    assert (first.state, first.counted_minutes, first.due_at) == ("paused", 20, at(5, 12, 40))
    closed = [*timeline, status(at(5, 12), "closed")]
    first = clock(evaluate(policy(), closed, at=at(6, 12)), "first_reply")
    assert (first.state, first.stopped_at, first.target_minutes) == ("cancelled", at(5, 12), None)


def test_a_reply_after_a_reopen_ends_the_first_reply_clock() -> None:
    timeline = [
        created(at(5, 9)),
        Event(at(5, 9, 20), "solved"),
        message(at(6, 9)),  # reopens the solved ticket
        reply(at(6, 9, 15)),
    ]
    first = clock(evaluate(policy(), timeline, at=at(6, 12)), "first_reply")
    assert (first.state, first.counted_minutes) == ("achieved", 35)


# --- priority changes and targets ----------------------------------------------------------


def test_a_priority_change_before_due_recomputes_from_the_clock_start() -> None:
    timeline = [created(at(5, 9)), priority(at(5, 9, 20), "urgent")]
    first = clock(evaluate(policy(), timeline, at=at(5, 9, 25)), "first_reply")
    assert (first.state, first.target_minutes, first.due_at) == ("active", 30, at(5, 9, 30))


def test_a_priority_change_whose_due_has_passed_breaches_at_that_earlier_due() -> None:
    timeline = [created(at(5, 9)), priority(at(5, 9, 40), "urgent")]
    first = clock(evaluate(policy(), timeline, at=at(5, 9, 45)), "first_reply")
    assert (first.state, first.breached_at, first.target_minutes) == ("breached", at(5, 9, 30), 30)


def test_a_finished_clock_keeps_its_target() -> None:
    timeline = [created(at(5, 9)), reply(at(5, 9, 50)), priority(at(5, 10), "urgent")]
    first = clock(evaluate(policy(), timeline, at=at(5, 11)), "first_reply")
    assert (first.state, first.target_minutes) == ("achieved", 60)


def test_a_priority_without_a_target_has_no_clock() -> None:
    clocks = evaluate(policy(), [created(at(5, 9), "low")], at=at(5, 10))
    assert [c.metric for c in clocks] == ["agent_work", "requester_wait"]


def test_changing_to_a_priority_without_a_target_cancels_a_running_clock() -> None:
    timeline = [created(at(5, 9)), priority(at(5, 9, 30), "low")]
    first = clock(evaluate(policy(), timeline, at=at(5, 10, 30)), "first_reply")
    assert (first.state, first.due_at, first.breached_at) == ("cancelled", None, None)


def test_a_clock_gets_a_target_when_its_priority_gets_one() -> None:
    timeline = [created(at(5, 9), "low"), priority(at(5, 9, 20), "normal")]
    first = clock(evaluate(policy(), timeline, at=at(5, 9, 30)), "first_reply")
    assert (first.state, first.started_at, first.due_at) == ("active", at(5, 9), at(5, 10))


# --- warnings, calendar time, measured-only metrics ----------------------------------------


def test_warnings_come_one_per_level_in_business_minutes_before_due() -> None:
    rules = policy(warnings={"resolution": (60, 10)})
    timeline = [created(at(9, 12))]  # 480 business minutes: due Monday 12:00
    resolution = clock(evaluate(rules, timeline, at=at(9, 13)), "resolution")
    assert resolution.due_at == at(12, 12)
    assert resolution.warnings_at == (at(12, 11), at(12, 11, 50))


def test_a_warning_lead_that_crosses_a_closing_goes_back_over_the_night() -> None:
    rules = policy(warnings={"first_reply": (30,)})
    first = clock(evaluate(rules, [created(at(5, 16, 50))], at=at(5, 16, 55)), "first_reply")
    assert first.due_at == at(6, 9, 50)
    assert first.warnings_at == (at(6, 9, 20),)


def test_calendar_time_counts_nights_and_weekends() -> None:
    rules = policy(measure="calendar")
    first = clock(evaluate(rules, [created(at(9, 16, 30))], at=at(9, 17)), "first_reply")
    assert (first.counted_minutes, first.due_at) == (30, at(9, 17, 30))


def test_agent_work_and_requester_wait_are_measured_with_zendesk_pauses() -> None:
    timeline = [
        created(at(5, 9)),
        status(at(5, 10), "pending"),
        message(at(5, 11)),
        status(at(5, 12), "on_hold"),
        status(at(5, 13), "open"),
        Event(at(5, 14), "solved"),
    ]
    clocks = evaluate(policy(), timeline, at=at(5, 15))
    work, wait = clock(clocks, "agent_work"), clock(clocks, "requester_wait")
    assert (work.state, work.target_minutes, work.counted_minutes) == ("achieved", None, 180)
    assert (wait.state, wait.counted_minutes, wait.paused_minutes) == ("achieved", 240, 60)
    assert work.achieved_at == at(5, 14) and work.measure == "calendar"


def test_events_after_the_evaluation_instant_are_ignored() -> None:
    timeline = [created(at(5, 9)), reply(at(5, 9, 30))]
    first = clock(evaluate(policy(), timeline, at=at(5, 9, 10)), "first_reply")
    assert (first.state, first.counted_minutes) == ("active", 10)


def test_before_creation_there_are_no_clocks() -> None:
    assert evaluate(policy(), [created(at(5, 9))], at=at(5, 8)) == []


def test_a_warning_lead_longer_than_the_morning_falls_on_the_evening_before() -> None:
    rules = policy(warnings={"first_reply": (30,)})
    first = clock(evaluate(rules, [created(at(5, 16, 10))], at=at(5, 16, 15)), "first_reply")
    assert first.due_at == at(6, 9, 10)
    assert first.warnings_at == (at(5, 16, 40),)
