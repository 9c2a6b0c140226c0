"""Seed a fresh database with N tickets, their messages and events; report tickets per second.

    .venv/bin/python benchmarks/seed.py 100000 [--database sqlite|postgres|sqlite,postgres]

SQLite goes to a temporary PATRON_DATA_DIR; PostgreSQL to a dedicated database,
`patron_bench_seed` on postgres://postgres@127.0.0.1:5432/, dropped and created with
dropdb/createdb. The clock runs from the first insert to the last commit (migrations excluded).

This is a seeding tool, and it bypasses the services on purpose: Contacts, Tickets, Messages and
TicketEvents are written with `bulk_create` in batches, one transaction per batch. The rows look
like the services' (ticket numbers from the same counter, an event per change, messages counted
on the ticket) but no permission is checked, no delivery receipt is written and nothing is
enqueued: the seeded history counts as already delivered. Texts are the demo corpus
(`patron.demo.corpus`). Results go to docs/benchmarks.md under "Seed", one row per database;
a run for one database keeps the other's row.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_description, write_section  # noqa: E402

SECTION = "Seed"
POSTGRES_DATABASE = "patron_bench_seed"
POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DATABASE}"
SEED = 1234
BATCH = 2000  # tickets per transaction
# Rows per INSERT: Django builds and SQLite parses a statement of 250,000 parameters more slowly
# per row than a few hundred rows at a time (about 45 µs against 33 µs a row here).
ROWS_PER_INSERT = 300
HISTORY_DAYS = 365
TICKETS_PER_CONTACT = 5
CLIENT_SHARE = 0.2


@dataclass(frozen=True)
class Result:
    database: str
    tickets: int
    messages: int
    events: int
    contacts: int
    seconds: float
    cpu_seconds: float
    size_mb: float

    @property
    def rate(self) -> float:
        return self.tickets / self.seconds


def seed(count: int, *, batch: int = BATCH, progress: bool = True) -> Result:
    """Runs inside a child process whose environment names the database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    seeder = Seeder(count, batch=batch)
    started, cpu_started = time.perf_counter(), time.process_time()
    seeder.people()
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "Seeding", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
        ) as bar:
            task = bar.add_task("tickets", total=count)
            for done in seeder.tickets():
                bar.advance(task, done)
    else:
        for _ in seeder.tickets():
            pass
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Result(
        database=connection.vendor,
        tickets=count,
        messages=seeder.messages,
        events=seeder.events,
        contacts=len(seeder.contact_ids),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        size_mb=database_size_mb(),
    )


def database_size_mb() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return float(cursor.fetchone()[0]) / 1048576
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(str(connection.settings_dict["NAME"])).stat().st_size / 1048576


class Seeder:
    """Writes people once, then tickets in batches; counts what it wrote."""

    def __init__(self, count: int, *, batch: int) -> None:
        from patron.demo import corpus

        self.count = count
        self.batch = batch
        self.rng = random.Random(SEED)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.customer_said = corpus.bitext_utterances()
        self.client_said = corpus.banking_utterances()
        self.contact_ids: list[int] = []
        self.client_contact_ids: list[int] = []
        self.organization_of: dict[int, int | None] = {}
        self.agent_ids: list[int] = []
        self.team_ids: dict[str, int] = {}
        self.tag_ids: dict[str, int] = {}
        self.messages = 0
        self.events = 0

    def people(self) -> None:
        from django.db import transaction

        from patron.demo.corpus import BILLING, CLIENT_SUCCESS, RETAIL
        from patron.demo.plan import CLIENT_ORGANIZATIONS, FIRST_NAMES, LAST_NAMES
        from patron.people import agents as people
        from patron.people.models import Contact, ContactEmail, Organization, Team
        from patron.tickets.models import Tag

        with transaction.atomic():
            self.team_ids = {
                name: Team.objects.create(name=name).pk
                for name in (CLIENT_SUCCESS, RETAIL, BILLING)
            }
            for n in range(8):
                profile = people.create_agent(
                    username=f"agent{n}", email=f"agent{n}@desk.example", password=None
                )
                self.agent_ids.append(profile.user_id)
            organizations = Organization.objects.bulk_create(
                Organization(
                    name=spec.name, relationship="client", tier=spec.tier, created_at=self.now
                )
                for spec in CLIENT_ORGANIZATIONS
            )
            contacts_wanted = max(10, self.count // TICKETS_PER_CONTACT)
            contacts = []
            for n in range(contacts_wanted):
                client = n < contacts_wanted * CLIENT_SHARE
                organization = self.rng.choice(organizations) if client else None
                name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
                contacts.append(Contact(name=name, organization=organization, created_at=self.now))
            contacts = Contact.objects.bulk_create(contacts, batch_size=ROWS_PER_INSERT)
            ContactEmail.objects.bulk_create(
                (
                    ContactEmail(contact=contact, address=f"person{n}@mail.example", primary=True)
                    for n, contact in enumerate(contacts)
                ),
                batch_size=ROWS_PER_INSERT,
            )
            names = sorted({corpus_tag(u.intent) for u in (*self.customer_said, *self.client_said)})
            self.tag_ids = {
                tag.name: tag.pk for tag in Tag.objects.bulk_create(Tag(name=n) for n in names)
            }
        for contact in contacts:
            assert contact.pk is not None
            self.contact_ids.append(contact.pk)
            self.organization_of[contact.pk] = contact.organization_id
            if contact.organization_id is not None:
                self.client_contact_ids.append(contact.pk)

    def tickets(self) -> Any:
        """Yield after each committed batch with how many tickets it held."""
        from django.db import transaction

        from patron.tickets.models import Counter
        from patron.tickets.services import FIRST_TICKET_NUMBER

        for first in range(0, self.count, self.batch):
            size = min(self.batch, self.count - first)
            with transaction.atomic():
                self._batch(FIRST_TICKET_NUMBER + first, size)
            yield size
        Counter.objects.update_or_create(
            name="ticket", defaults={"value": FIRST_TICKET_NUMBER + self.count - 1}
        )

    def _batch(self, first_number: int, size: int) -> None:
        from patron.demo import corpus
        from patron.tickets.models import Message, Status, Ticket, TicketEvent

        rng = self.rng
        plans = []
        tickets = []
        for n in range(size):
            client = rng.random() < CLIENT_SHARE
            if client:
                requester = rng.choice(self.client_contact_ids)
                said = rng.choice(self.client_said)
                subject = corpus.client_subject(said)
                reply = corpus.THEME_NAMED[said.category].reply
                team = corpus.CLIENT_SUCCESS
            else:
                requester = rng.choice(self.contact_ids)
                said = rng.choice(self.customer_said)
                intent = corpus.CUSTOMER_INTENTS[said.intent]
                subject, reply, team = corpus.customer_subject(said), intent.reply, intent.team
            created = self.now - timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
            age_days = (self.now - created).days
            if age_days > 14:
                status = Status.CLOSED if rng.random() < 0.85 else Status.SOLVED
            else:
                status = rng.choice((Status.NEW, Status.OPEN, Status.PENDING, Status.SOLVED))
            answered = status != Status.NEW
            replies = 0 if not answered else rng.choice((1, 1, 1, 2, 2, 3))
            updated = created + timedelta(minutes=rng.randint(20, 3000) * max(replies, 1))
            updated = min(updated, self.now)
            assignee = rng.choice(self.agent_ids) if answered else None
            solved_at = updated if status in (Status.SOLVED, Status.CLOSED) else None
            ticket = Ticket(
                number=first_number + n,
                subject=subject,
                requester_id=requester,
                organization_id=self.organization_of[requester],
                channel=rng.choice(("email", "email", "web", "chat", "phone")),
                status=status,
                priority=rng.choice(("normal", "normal", "normal", "high", "low", "urgent")),
                team_id=self.team_ids[team],
                assignee_id=assignee,
                created_at=created,
                updated_at=updated,
                solved_at=solved_at,
                closed_at=updated if status == Status.CLOSED else None,
                message_count=1 + 2 * replies - (1 if replies else 0),
            )
            tickets.append(ticket)
            plans.append((said, reply, replies, assignee, created, updated, status))
        Ticket.objects.bulk_create(tickets, batch_size=ROWS_PER_INSERT)
        tagged = Ticket.tags.through
        tagged.objects.bulk_create(
            [
                tagged(ticket_id=t.pk, tag_id=self.tag_ids[corpus_tag(p[0].intent)])
                for t, p in zip(tickets, plans, strict=True)
            ],
            batch_size=ROWS_PER_INSERT,
        )

        messages = []
        for ticket, (said, reply, replies, assignee, created, updated, _) in zip(
            tickets, plans, strict=True
        ):
            step = (updated - created) / (2 * replies) if replies else timedelta(0)
            messages.append(self._message(ticket, said.text, created, None))
            for r in range(replies):
                messages.append(
                    self._message(ticket, reply, created + step * (2 * r + 1), assignee)
                )
                if r < replies - 1:
                    at = created + step * (2 * r + 2)
                    follow_up = rng.choice(corpus.FOLLOW_UPS_UNRESOLVED)
                    messages.append(self._message(ticket, follow_up, at, None))
        Message.objects.bulk_create(messages, batch_size=ROWS_PER_INSERT)
        self.messages += len(messages)

        events = []
        by_ticket: dict[int, list[Message]] = {}
        for message in messages:
            by_ticket.setdefault(message.ticket_id, []).append(message)
        for ticket, (_, _, _, assignee, created, updated, status) in zip(
            tickets, plans, strict=True
        ):
            requester = ticket.requester_id
            details = {
                "channel": ticket.channel,
                "subject": ticket.subject,
                "priority": ticket.priority,
            }
            events.append(event(ticket.pk, "created", created, details, contact=requester))
            if assignee is not None:
                change = {"from": None, "to": assignee}
                events.append(event(ticket.pk, "assigned", created, change, agent=assignee))
            for message in by_ticket[ticket.pk]:
                added = {"message_id": message.pk, "public": True, "attachments": 0}
                events.append(
                    event(
                        ticket.pk,
                        "message_added",
                        message.created_at,
                        added,
                        agent=message.author_agent_id,
                        contact=message.author_contact_id,
                    )
                )
            if status != Status.NEW:
                change = {"field": "status", "from": Status.NEW, "to": status}
                events.append(event(ticket.pk, "field_changed", updated, change, agent=assignee))
        TicketEvent.objects.bulk_create(events, batch_size=ROWS_PER_INSERT)
        self.events += len(events)

    @staticmethod
    def _message(ticket: Any, body: str, at: datetime, agent: int | None) -> Any:
        """A message from the agent, or from the requester when `agent` is None."""
        from patron.tickets.models import Message

        if agent is None:
            return Message(
                ticket_id=ticket.pk,
                author_kind="contact",
                author_contact_id=ticket.requester_id,
                body_text=body,
                created_at=at,
            )
        return Message(
            ticket_id=ticket.pk,
            author_kind="agent",
            author_agent_id=agent,
            body_text=body,
            created_at=at,
        )


def event(
    ticket_id: int | None,
    kind: str,
    at: datetime,
    data: dict[str, object],
    *,
    agent: int | None = None,
    contact: int | None = None,
) -> Any:
    """A TicketEvent as `patron.core.events.record` would write it (without delivery receipts)."""
    from patron.tickets.models import TicketEvent

    return TicketEvent(
        ticket_id=ticket_id,
        kind=kind,
        at=at,
        data=data,
        actor_kind="agent" if agent is not None else "contact",
        actor_agent_id=agent,
        actor_contact_id=contact,
    )


def corpus_tag(intent: str) -> str:
    from patron.demo.corpus import tag_for

    return tag_for(intent)


# --- the parent: prepare each database, run a child, write the report ---------------------------


def run_child(database: str, count: int, batch: int) -> Result:
    data_dir = tempfile.mkdtemp(prefix="patron-bench-seed-")
    try:
        return _run_child(database, count, batch, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)  # a SQLite seed of 100,000 is over 200 MB


def _run_child(database: str, count: int, batch: int, data_dir: str) -> Result:
    env = dict(os.environ)
    env["PATRON_DATA_DIR"] = data_dir
    env["PATRON_TASK_BACKEND"] = "db"
    env.setdefault("PATRON_SECRET_KEY", "benchmark-secret-key-0123456789-abcdefghijkl")
    if database == "postgres":
        pg = ["-h", "127.0.0.1", "-U", "postgres"]
        subprocess.run(["dropdb", *pg, "--if-exists", POSTGRES_DATABASE], check=True)
        subprocess.run(["createdb", *pg, POSTGRES_DATABASE], check=True)
        env["DATABASE_URL"] = POSTGRES_URL
    else:
        env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, __file__, str(count), "--child", "--batch", str(batch)],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    fields = json.loads(out.stdout.strip().splitlines()[-1])
    return Result(**{**fields, "database": database})


def row(result: Result) -> str:
    return (
        f"| {result.database} | {result.tickets:,} | {result.messages:,} | {result.events:,} "
        f"| {result.contacts:,} | {result.seconds:.1f} | {result.cpu_seconds:.1f} "
        f"| {result.rate:,.0f} "
        f"| {result.size_mb:,.0f} |"
    )


def existing_rows(path: Path) -> dict[str, str]:
    """The rows of the current Seed section, by database, so one run keeps the other's row."""
    if not path.exists():
        return {}
    match = re.search(rf"^## {SECTION}\n(.*?)(?=^## |\Z)", path.read_text(), re.S | re.M)
    if match is None:
        return {}
    rows = re.findall(r"^\| (sqlite|postgres) \|.*$", match.group(1), re.M)
    lines = re.findall(r"^\| (?:sqlite|postgres) \|.*$", match.group(1), re.M)
    return dict(zip(rows, lines, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("tickets", type=int, nargs="?", default=100_000)
    parser.add_argument(
        "--database", default="sqlite", help="sqlite, postgres or both, comma-separated"
    )
    parser.add_argument("--batch", type=int, default=BATCH, help="tickets per transaction")
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = seed(args.tickets, batch=args.batch)
        fields = {k: v for k, v in result.__dict__.items() if k != "database"}
        sys.stdout.write(json.dumps({**fields, "database": result.database}) + "\n")
        return 0

    report = ROOT / "docs" / "benchmarks.md"
    rows = existing_rows(report)
    for database in args.database.split(","):
        if database not in ("sqlite", "postgres"):
            parser.error(f"--database must be sqlite or postgres, not {database!r}")
        result = run_child(database, args.tickets, args.batch)
        rows[database] = row(result)
        print(rows[database])
    if args.no_report:
        return 0
    body = "\n".join(
        [
            "Command: `.venv/bin/python benchmarks/seed.py 100000 --database sqlite,postgres`  ",
            machine_description(),
            "",
            "| database | tickets | messages | events | contacts | seconds | CPU seconds "
            "| tickets/s | size MB |",
            "|---|---|---|---|---|---|---|---|---|",
            *(rows[name] for name in ("sqlite", "postgres") if name in rows),
            "",
            "A fresh database each time (SQLite in a temporary data directory, PostgreSQL in "
            f"`{POSTGRES_DATABASE}`); migrations are not timed. Rows are written with "
            f"`bulk_create`, {args.batch:,} tickets per transaction, bypassing the services (no "
            "permission checks, no delivery receipts, nothing enqueued). CPU seconds are the "
            "seeding process's own (PostgreSQL's server work is not in them). Target: 100,000 "
            "tickets in under 2 minutes on SQLite.",
        ]
    )
    write_section(report, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
