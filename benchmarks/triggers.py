"""Trigger evaluation per ticket event with 200 active triggers (issue 13's target: < 5 ms
median), against the same events with no triggers, on the embedded default (SQLite).

    .venv/bin/python benchmarks/triggers.py [--triggers 200] [--events 400]

A fresh SQLite database in a temporary PATRON_DATA_DIR gets 500 tickets of clients and
customers (through the services) and N triggers, all asked on "updated": each has a rule of
all of two or three conditions over relationship, priority, status, tag, organization, channel
and a custom field, drawn at random, one of which fails on a typical ticket; 2 % of them match
every ticket and tag it. Each measured event is
an agent's priority change; `run_triggers(event)` runs inside a transaction as the consumer
does (its own writes included: firings and the tag changes). The baseline is the same events
with the triggers switched off. Results go to docs/benchmarks.md under "Triggers".
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_description, write_section  # noqa: E402

SECTION = "Triggers"
SEED = 1313
TICKETS = 500
TARGET_MS = 5.0


def _rule(rng: random.Random, matching: bool) -> dict[str, object]:
    if matching:
        return {"all": [{"field": "priority", "op": "ne", "value": "low"}]}
    # A rule that does not match a typical ticket: all of two or three conditions, one of which
    # (a tag, an organization, a plan, a channel it does not have) fails.
    failing = [
        {"field": "tag", "op": "contains", "value": f"never-{rng.randrange(1000)}"},
        {"field": "organization", "op": "eq", "value": f"Nobody {rng.randrange(1000)}"},
        {"field": "channel", "op": "in", "value": ["chat", "api"]},
        {"field": "custom.plan", "op": "eq", "value": f"plan-{rng.randrange(50)}"},
        {"field": "priority", "op": "eq", "value": "low"},
    ]
    others = [
        {"field": "relationship", "op": "eq", "value": rng.choice(["client", "customer"])},
        {"field": "priority", "op": "in", "value": ["high", "urgent"]},
        {"field": "status", "op": "ne", "value": "closed"},
    ]
    chosen = [rng.choice(failing), *rng.sample(others, rng.choice([1, 2]))]
    rng.shuffle(chosen)
    return {"all": chosen}


def measure(triggers: int, events: int) -> dict[str, float]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from tests import factories

    from patron.automation import services
    from patron.automation.models import Trigger
    from patron.people import services as people
    from patron.people.models import Role
    from patron.tickets import services as tickets
    from patron.tickets.models import EventKind, TicketEvent

    call_command("migrate", verbosity=0)
    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    admin = factories.agent(Role.ADMIN)
    agent = factories.agent()
    client = people.create_organization(name="Client Co", relationship="client", now=now)
    rows = []
    for n in range(TICKETS):
        org = client if n % 5 == 0 else None
        requester = people.create_contact(
            email=f"p{n}@mail.example", name=f"P {n}", now=now, organization=org
        )
        rows.append(tickets.create_ticket(requester=requester, subject=f"T {n}", body="b", now=now))
    matching = max(1, triggers // 50)
    for n in range(triggers):
        services.save_trigger(
            None,
            {
                "name": f"Rule {n}",
                "moments": ["updated"],
                "rule": _rule(rng, n < matching),
                "actions": [{"type": "add_tags", "value": [f"rule-{n}"]}],
            },
            actor=admin,
            now=now,
        )

    def run(active: bool, *, acting: bool = True) -> list[float]:
        Trigger.objects.update(active=active)
        if not acting:
            Trigger.objects.filter(name__in=[f"Rule {n}" for n in range(matching)]).update(
                active=False
            )
        timings = []
        for n in range(events):
            ticket = rows[n % TICKETS]
            priority = "urgent" if ticket.priority == "high" else "high"  # always a change
            tickets.change_priority(ticket, priority, actor=agent, now=now)
            event = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.FIELD_CHANGED).last()
            assert event is not None
            started = time.perf_counter()
            with transaction.atomic():
                services.run_triggers(event)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    baseline = run(False)
    evaluating = run(True, acting=False)
    with_triggers = run(True)
    return {
        "baseline_median": statistics.median(baseline),
        "evaluate_median": statistics.median(evaluating),
        "evaluate_p95": statistics.quantiles(evaluating, n=20)[-1],
        "median": statistics.median(with_triggers),
        "p95": statistics.quantiles(with_triggers, n=20)[-1],
        "matching": matching,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ["PATRON_DATA_DIR"] = tempfile.mkdtemp(prefix="patron-bench-triggers-")
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    result = measure(args.triggers, args.events)
    evaluating = f"{args.triggers - result['matching']:.0f} active, none matching: evaluation only"
    acting = f"{args.triggers} active triggers, {result['matching']:.0f} acting"
    verdict = "met" if result["evaluate_median"] < TARGET_MS else "NOT met"
    body = f"""{machine_description()}

Command: `.venv/bin/python benchmarks/triggers.py --triggers {args.triggers} --events {args.events}`
(SQLite; {TICKETS} tickets; {result["matching"]:.0f} of the triggers match and act).

| | median per event | p95 |
|---|---|---|
| no active triggers (baseline) | {result["baseline_median"]:.2f} ms | |
| {evaluating} | {result["evaluate_median"]:.2f} ms | {result["evaluate_p95"]:.2f} ms |
| {acting} | {result["median"]:.2f} ms | {result["p95"]:.2f} ms |

Target: < {TARGET_MS:.0f} ms median for evaluating {args.triggers} triggers on an event:
{verdict} ({result["evaluate_median"] / max(result["baseline_median"], 1e-9):.0f}x the baseline,
which only reads the triggers and the event's firings). The last row adds the acting triggers'
own writes, each a change through the ticket services (a tag change, its event and receipts,
the firing row), about {(result["median"] - result["evaluate_median"]) / result["matching"]:.1f} ms
a trigger that acts.
"""
    print(body)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", SECTION, body)


if __name__ == "__main__":
    main()
