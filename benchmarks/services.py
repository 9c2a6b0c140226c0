"""The cost of the road: create-ticket and reply through the services vs bare ORM inserts.

    .venv/bin/python benchmarks/services.py [--rounds 400] [--databases sqlite,postgres]

For each database, in one run: median and p95 of `tickets.services.create_ticket` and
`tickets.services.reply` (permission check, row lock, ticket number, message, TicketEvent,
delivery receipts, the task enqueued after commit on the default db task backend), and of bare
`Model.objects.create` of the same visible rows (ticket + message; message) in a transaction of
their own. The ratio service/bare is the figure to watch (target: within 3x). Results go to
docs/benchmarks.md under "Services".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_description, write_section  # noqa: E402

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/patron_bench_services"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(rounds: int) -> dict[str, dict[str, float]]:
    """Runs inside a child process whose environment names the database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import F
    from django.utils import timezone

    from patron.core.consumers import consumers_for
    from patron.core.models import EventDelivery
    from patron.people import services as people
    from patron.tickets import services as tickets
    from patron.tickets.models import Channel, Message, Status, Ticket, TicketEvent

    call_command("migrate", verbosity=0)
    agent = people.create_agent(
        username="bench", email="bench@desk.example", password=None, role="agent"
    ).user
    now = timezone.now()
    requester = people.create_contact(email="customer@mail.example", name="Cus Tomer", now=now)
    number = 10_000_000
    kinds = ("create", "bare_create", "reply", "bare_reply")
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    targets = []
    for i in range(rounds):
        start = time.perf_counter()
        ticket = tickets.create_ticket(
            requester=requester,
            subject=f"Parcel {i} has not arrived",
            body="I ordered a week ago and the parcel has not arrived yet.",
            channel=Channel.EMAIL,
            now=timezone.now(),
        )
        timings["create"].append(time.perf_counter() - start)
        targets.append(ticket)

        start = time.perf_counter()
        with transaction.atomic():
            number += 1
            at = timezone.now()
            bare = Ticket.objects.create(
                number=number,
                subject=f"Parcel {i} has not arrived",
                requester=requester,
                channel=Channel.EMAIL,
                status=Status.NEW,
                created_at=at,
                updated_at=at,
            )
            created = TicketEvent.objects.create(
                ticket=bare, kind="created", actor_kind="contact", actor_contact=requester, at=at
            )
            for consumer in consumers_for("created"):
                EventDelivery.objects.create(event=created, consumer=consumer, due_at=at)
            Message.objects.create(
                ticket=bare,
                author_kind="contact",
                author_contact=requester,
                body_text="I ordered a week ago and the parcel has not arrived yet.",
                created_at=at,
            )
            Ticket.objects.filter(pk=bare.pk).update(message_count=F("message_count") + 1)
            event = TicketEvent.objects.create(
                ticket=bare, kind="message_added", actor_kind="contact", actor_contact=requester,
                at=at,
            )  # fmt: skip
            for consumer in consumers_for("message_added"):
                EventDelivery.objects.create(event=event, consumer=consumer, due_at=at)
        timings["bare_create"].append(time.perf_counter() - start)

    for ticket in targets:  # replies are measured on open tickets, as most replies are
        tickets.change_status(ticket, Status.OPEN, actor=agent, now=timezone.now())
    for ticket in targets:
        start = time.perf_counter()
        tickets.reply(
            ticket,
            author=agent,
            body="Sorry about that; I have asked the courier and will write back today.",
            now=timezone.now(),
        )
        timings["reply"].append(time.perf_counter() - start)

        start = time.perf_counter()
        with transaction.atomic():
            at = timezone.now()
            Message.objects.create(
                ticket=ticket,
                author_kind="agent",
                author_agent=agent,
                body_text="Sorry about that; I have asked the courier and will write back today.",
                created_at=at,
            )
            Ticket.objects.filter(pk=ticket.pk).update(
                message_count=F("message_count") + 1, updated_at=at
            )
            event = TicketEvent.objects.create(
                ticket=ticket, kind="message_added", actor_kind="agent", actor_agent=agent, at=at
            )
            for consumer in consumers_for("message_added"):
                EventDelivery.objects.create(event=event, consumer=consumer, due_at=at)
        timings["bare_reply"].append(time.perf_counter() - start)

    result = {
        name: {
            "median_ms": statistics.median(values) * 1000,
            "p95_ms": percentile(values, 0.95) * 1000,
        }
        for name, values in timings.items()
    }
    result["engine"] = {"vendor": connection.vendor}  # type: ignore[dict-item]
    return result


def run_child(database: str, rounds: int) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    env["PATRON_DATA_DIR"] = tempfile.mkdtemp(prefix="patron-bench-")
    env["PATRON_TASK_BACKEND"] = "db"
    env.setdefault("PATRON_SECRET_KEY", "benchmark-secret-key-0123456789-abcdefghijkl")
    if database == "postgres":
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists",
                        "patron_bench_services"], check=True)  # fmt: skip
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres",
                        "patron_bench_services"], check=True)  # fmt: skip
        env["DATABASE_URL"] = POSTGRES_URL
    else:
        env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--rounds", str(rounds)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(measure(args.rounds)) + "\n")
        return 0

    rows = []
    for database in args.databases.split(","):
        result = run_child(database, args.rounds)
        for op, bare in (("create_ticket", "bare_create"), ("reply", "bare_reply")):
            key = "create" if op == "create_ticket" else "reply"
            service, baseline = result[key], result[bare]
            ratio = service["median_ms"] / baseline["median_ms"]
            rows.append(
                f"| {database} | {op} | {service['median_ms']:.2f} | {service['p95_ms']:.2f} "
                f"| {baseline['median_ms']:.2f} | {baseline['p95_ms']:.2f} | {ratio:.2f}x |"
            )
            print(rows[-1])
    table = "\n".join(
        [
            f"Command: `.venv/bin/python benchmarks/services.py --rounds {args.rounds}`  ",
            f"{machine_description()}",
            "",
            "| database | operation | service median ms | service p95 ms | bare median ms "
            "| bare p95 ms | ratio (median) |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Bare = `Model.objects.create` (and the counter `UPDATE`) of the same rows the "
            "service writes (ticket, message, TicketEvents, a receipt per consumer) in one "
            "transaction. The service adds the permission check, the row lock, the ticket "
            "number, validation, and the background task it enqueues after commit (one more "
            "INSERT on the db task backend). Replies are measured on open tickets.",
        ]
    )
    write_section(ROOT / "docs" / "benchmarks.md", "Services", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
