"""Email ingest: mails per second from raw bytes to committed ticket messages with their events.

    .venv/bin/python benchmarks/ingest.py [--mails 1000] [--databases sqlite,postgres] [--profile]
        [--baseline PATH_TO_AN_OLDER_CHECKOUT]

For each database, in a child process on a fresh database (SQLite in a temporary data directory;
PostgreSQL `patron_bench_ingest`, dropped and created), on the default `db` task backend, the
realistic path, timed as a whole:

1. every mail is stored by `services.receive_raw`, one after the other, each committed on its own
   as the listener does (sha256, the row with its bytes, the processing task row enqueued);
2. the worker path: the `process_inbound` task rows are claimed and run as `db_worker` does
   (`exclusive_transaction`, `get_locked`, `claim`, then django-tasks-db's `Worker.run_task`):
   parse, loop/duplicate/rate checks, contact, threading, reply extraction, ticket and message
   through `tickets.services` with their TicketEvents and delivery receipts, attachments
   stored, the deliveries' task rows enqueued after commit. Consumers are not run.

Afterwards it checks that nothing was lost: every mail processed, one message per mail, as many
tickets as the corpus has conversations, one event per ticket and per message, one delivery task
row per receipt. `--baseline` runs the same in a child importing Patron from an older checkout
(`git worktree add /tmp/ingest-base <commit>`), for a ratio measured on the same machine in the
same run. Results go to docs/benchmarks.md under "Email ingest".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_description, write_section  # noqa: E402

POSTGRES_DATABASE = "patron_bench_ingest"
POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DATABASE}"
WARM_UP = 30
# Where the time goes (inclusive, under cProfile): label -> (file, function). Phases nest: the
# table shows each one's share of the whole loop, not a partition.
PHASES = {
    "receive_raw (store, commit, enqueue)": ("mail/services.py", "receive_raw"),
    "worker: claim and finish task rows": ("db_worker.py", "run_task"),
    "process_inbound (all of processing)": ("mail/tasks.py", "process_inbound"),
    "services.process (one mail, in its savepoint)": ("mail/services.py", "process"),
    "parsing.parse (email package, nh3)": ("mail/parsing/message.py", "parse"),
    "services._deliver (contact, thread, ticket)": ("mail/services.py", "_deliver"),
    "threads.find": ("mail/threads.py", "find"),
    "quotes.split_text + split_html": ("mail/quotes/text.py", "split_text"),
    "tickets.create_ticket": ("tickets/services.py", "create_ticket"),
    "tickets.add_customer_message": ("tickets/services.py", "add_customer_message"),
    "people.get_or_create_contact": ("people/services.py", "get_or_create_contact"),
    "events.record (event + receipts)": ("core/events.py", "record"),
    "after-commit hooks (task rows for deliveries)": ("db/backends/base/base.py",
                                                      "run_and_clear_commit_hooks"),
    "SQL execution (sqlite3/psycopg)": ("db/backends/utils.py", "_execute"),
}  # fmt: skip
TARGET = 300  # mails/s on SQLite

SUBJECTS = [
    "Parcel stuck in customs", "Invoice shows the wrong VAT", "Cannot log in since the update",
    "Refund for order", "Printer on floor 3 jams", "Change of delivery address",
    "Missing item in my box", "Password reset mail never arrives", "Upgrade our plan",
    "Export to CSV is empty",
]  # fmt: skip
PARAGRAPHS = [
    "I ordered a week ago and the parcel has not arrived yet. The tracking page has said "
    "'in customs' since Monday.",
    "Could you please have a look? We need this sorted before the end of the month, as our "
    "accountant closes the books then.",
    "I tried again this morning with a different browser and it still does not work.",
    "Attached is a screenshot of what I see. Thanks in advance for your help.",
]
PDF = b"%PDF-1.4\n" + bytes(random.Random(7).randbytes(60_000)) + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(random.Random(8).randbytes(8_000))


def conversations(mails: list[tuple[str, bytes]]) -> int:
    """How many tickets the corpus implies: one per mail that starts a conversation."""
    return sum(1 for _, raw in mails if b"In-Reply-To:" not in raw)


def corpus(count: int, seed: int = 42) -> list[tuple[str, bytes]]:
    """(kind, raw) in arrival order: conversations of 1-5 mails from 300 senders; 45% new, the
    rest replies naming their parent in In-Reply-To/References with quoted history; 20% plain,
    ~20% HTML only, ~45% multipart/alternative, 10% with a PDF, 5% with inline images."""
    rng = random.Random(seed)
    mails: list[tuple[str, bytes]] = []
    open_threads: list[dict[str, object]] = []
    for n in range(count):
        reply = bool(open_threads) and rng.random() < 0.55
        if reply:
            thread = rng.choice(open_threads)
        else:
            sender = rng.randrange(300)
            thread = {
                "from": f"Customer {sender} <customer{sender}@client{sender % 40}.example>",
                "subject": f"{rng.choice(SUBJECTS)} {n}",
                "ids": [],
            }
            open_threads.append(thread)
            if len(open_threads) > 60:
                open_threads.pop(0)
        ids: list[str] = thread["ids"]  # type: ignore[assignment]
        message = EmailMessage()
        message["From"] = str(thread["from"])
        message["To"] = "Support <support@desk.example>"
        message["Subject"] = f"Re: {thread['subject']}" if reply else str(thread["subject"])
        message["Message-ID"] = f"<bench.{n}.{seed}@client.example>"
        message["Date"] = format_datetime(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        if reply and ids:
            message["In-Reply-To"] = f"<{ids[-1]}>"
            message["References"] = " ".join(f"<{i}>" for i in ids[-10:])
        text = "Hello,\n\n" + "\n\n".join(rng.sample(PARAGRAPHS, 2)) + "\n\nBest,\nA customer\n"
        if reply:
            text += "\nOn Mon, 23 Nov 2026 at 09:00, Support <support@desk.example> wrote:\n"
            text += "".join(f"> {line}\n" for line in PARAGRAPHS[0].split(". "))
        paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
        html = f"<html><body>{paragraphs}</body></html>"
        roll = rng.random()
        if roll < 0.2:
            kind = "plain"
            message.set_content(text)
        elif roll < 0.4:
            kind = "html-only"
            message.set_content(html, subtype="html")
        else:
            kind = "alternative"
            message.set_content(text)
            message.add_alternative(html, subtype="html")
        extra = rng.random()
        if extra < 0.10:
            kind += "+pdf"
            message.add_attachment(PDF, maintype="application", subtype="pdf", filename="scan.pdf")
        elif extra < 0.15 and kind == "alternative":
            kind += "+inline-image"
            html_part = message.get_body(("html",))
            assert html_part is not None
            html_part.set_content(html.replace("</body>", '<img src="cid:shot1"></body>'),
                                  subtype="html")  # fmt: skip
            html_part.add_related(PNG, maintype="image", subtype="png", cid="<shot1>")
        ids.append(f"bench.{n}.{seed}@client.example")
        mails.append((kind, message.as_bytes()))
    return mails


def measure(count: int, profile: bool) -> dict[str, object]:
    """Runs inside a child process whose environment names the database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    from patron.core.models import EventDelivery
    from patron.mail import services
    from patron.mail.models import InboundMail, Mailbox
    from patron.people.models import PeopleEventDelivery
    from patron.tickets.models import Message, Ticket, TicketEvent

    call_command("migrate", verbosity=0)
    mailbox = Mailbox.objects.create(address="support@desk.example", sender_limit_per_hour=1000)
    mails = corpus(count + WARM_UP)
    start_at = timezone.now() - timedelta(days=1)
    worker = Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="benchmark", excluded_queue_names=[],
    )  # fmt: skip
    processing = DBTaskResult.objects.ready().filter(task_path="patron.mail.tasks.process_inbound")

    def store(first: int, batch: list[tuple[str, bytes]]) -> None:
        for index, (_, raw) in enumerate(batch, start=first):
            services.receive_raw(
                raw, mailbox=mailbox, source="smtp", received_at=start_at + timedelta(seconds=index)
            )

    def work() -> int:
        """What `db_worker` does for each task row, over the processing task rows only."""
        ran = 0
        while True:
            with exclusive_transaction(processing.db):
                row = processing.get_locked()
                if row is None:
                    return ran
                row.claim(worker.worker_id)
            worker.run_task(row)
            ran += 1

    store(0, mails[:WARM_UP])
    work()
    queries = 0

    def counting(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu_began = time.process_time()
    began = time.perf_counter()
    with connection.execute_wrapper(counting):
        store(WARM_UP, mails[WARM_UP:])
        stored = time.perf_counter()
        store_queries = queries
        tasks_run = work()
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    breakdown: dict[str, float] = {}
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        raw_stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
        raw_stats = stats.stats  # type: ignore[attr-defined]
        for (filename, _, function), (_, _, _, inclusive, _) in raw_stats.items():
            for label, (suffix, name) in PHASES.items():
                if filename.endswith(suffix) and function == name:
                    breakdown[label] = breakdown.get(label, 0.0) + inclusive
    timed = InboundMail.objects.order_by("id")[WARM_UP:]
    states: dict[str, int] = {}
    for state in timed.values_list("state", flat=True):
        states[state] = states.get(state, 0) + 1
    kinds: dict[str, int] = {}
    for kind, _ in mails[WARM_UP:]:
        kinds[kind] = kinds.get(kind, 0) + 1
    receipts = EventDelivery.objects.count() + PeopleEventDelivery.objects.count()
    delivery_rows = DBTaskResult.objects.filter(task_path="patron.core.tasks.run_delivery")
    checks = {
        "every mail processed": InboundMail.objects.exclude(state="processed").count() == 0,
        "one message per mail": Message.objects.count() == len(mails)
        and not Message.objects.values("inbound_mail").annotate(n=Count("id")).filter(n__gt=1),
        "every mail names its message": not InboundMail.objects.filter(message__isnull=True),
        "one ticket per conversation": Ticket.objects.count() == conversations(mails),
        "one event per ticket and message": TicketEvent.objects.count()
        == Ticket.objects.count() + Message.objects.count(),
        "one delivery task per receipt": delivery_rows.count() == receipts
        and delivery_rows.values("args_kwargs").distinct().count() == receipts,
        "no processing task left": not processing.exists(),
    }
    return {
        "vendor": connection.vendor,
        "mails": count,
        "seconds": elapsed,
        "store_seconds": stored - began,
        "work_seconds": elapsed - (stored - began),
        "rate": count / elapsed,
        "cpu_seconds": cpu,
        "cpu_rate": count / cpu,
        "queries_per_mail": queries / count,
        "store_queries_per_mail": store_queries / count,
        "tasks_run": tasks_run,
        "states": states,
        "kinds": kinds,
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(),
        "receipts": receipts,
        "checks": checks,
        "nothing_lost": all(checks.values()),
        "breakdown": breakdown,
    }


def run_child(
    database: str, count: int, profile: bool, baseline: str | None = None
) -> dict[str, object]:
    env = dict(os.environ)
    env["PATRON_DATA_DIR"] = tempfile.mkdtemp(prefix="patron-bench-ingest-")
    env["PATRON_TASK_BACKEND"] = "db"
    env.setdefault("PATRON_SECRET_KEY", "benchmark-secret-key-0123456789-abcdefghijkl")
    if baseline:
        env["PYTHONPATH"] = str(Path(baseline) / "src")  # ahead of the installed checkout
    if database == "postgres":
        pg = ["-h", "127.0.0.1", "-U", "postgres"]
        subprocess.run(["dropdb", *pg, "--if-exists", POSTGRES_DATABASE], check=True)
        subprocess.run(["createdb", *pg, POSTGRES_DATABASE], check=True)
        env["DATABASE_URL"] = POSTGRES_URL
    else:
        env.pop("DATABASE_URL", None)
    command = [sys.executable, __file__, "--child", "--mails", str(count)]
    out = subprocess.run(
        command + (["--profile"] if profile else []),
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(label: str, result: dict[str, object]) -> str:
    r: dict[str, Any] = result
    return (
        f"| {label} | {r['mails']} | {r['seconds']:.1f} ({r['store_seconds']:.1f} + "
        f"{r['work_seconds']:.1f}) | **{r['rate']:.0f}** | {r['cpu_seconds']:.1f} | "
        f"{r['cpu_rate']:.0f} | {r['queries_per_mail']:.1f} | {r['tickets']} | {r['messages']} | "
        f"{r['events']} | {'yes' if r['nothing_lost'] else 'NO: ' + json.dumps(r['checks'])} |"
    )


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "(uptime unavailable)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--profile", action="store_true", help="cProfile the loop (stderr)")
    parser.add_argument("--no-report", action="store_true", help="do not write the docs")
    parser.add_argument("--baseline", help="an older checkout to measure the same way")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(measure(args.mails, args.profile)) + "\n")
        return 0

    load_before = uptime()
    rows = []
    results: dict[str, dict[str, object]] = {}
    for database in args.databases.split(","):
        runs = [("now", None)] + ([("baseline", args.baseline)] if args.baseline else [])
        for label, checkout in runs:
            result = run_child(database, args.mails, args.profile, checkout)
            results[f"{database} {label}"] = result
            rows.append(row(f"{database}, {label}", result))
            print(rows[-1], json.dumps(result["states"]), flush=True)
    ratios = [
        f"{database}: {float(now['rate']) / float(base['rate']):.1f}x the baseline's mails/s, "  # type: ignore[arg-type]
        f"{float(base['queries_per_mail']) / float(now['queries_per_mail']):.1f}x fewer queries"  # type: ignore[arg-type]
        for database in args.databases.split(",")
        if (now := results.get(f"{database} now")) and (base := results.get(f"{database} baseline"))
    ]
    breakdown_rows: list[str] = []
    profiled_count = min(args.mails, 300)
    if "sqlite now" in results and not args.profile:
        profiled = run_child("sqlite", profiled_count, True)
        total = float(profiled["seconds"])  # type: ignore[arg-type]
        phases: dict[str, float] = profiled["breakdown"]  # type: ignore[assignment]
        for label in PHASES:
            if label in phases:
                per_mail_ms = phases[label] / profiled_count * 1000
                share = phases[label] / total * 100
                breakdown_rows.append(f"| {label} | {per_mail_ms:.2f} | {share:.0f}% |")
        print("\n".join(breakdown_rows), flush=True)
    load_after = uptime()
    if args.no_report:
        return 0
    first = results[next(iter(results))]
    kinds: dict[str, int] = first["kinds"]  # type: ignore[assignment]
    mix = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    sqlite = results.get("sqlite now")
    verdict = (
        f"Target ≥ {TARGET} mails/s on SQLite with nothing lost: "
        + (
            "**met**."
            if sqlite and float(sqlite["rate"]) >= TARGET and sqlite["nothing_lost"]  # type: ignore[arg-type]
            else "**not met** (see below)."
        )
        if sqlite
        else ""
    )
    baseline_note = (
        f"The baseline is the same benchmark run against `{args.baseline}` (an older checkout, "
        "PYTHONPATH pointing at its `src`), in the same run on the same machine: "
        + "; ".join(ratios)
        + "."
        if ratios
        else ""
    )
    body = "\n".join(
        [
            machine_description(),
            f"Load (`uptime`; other helpers' work runs on this 2-core machine at the same time): "
            f"before `{load_before}`; after `{load_after}`.",
            "",
            f"Command: `.venv/bin/python benchmarks/ingest.py --mails {args.mails} "
            f"--databases {args.databases}"
            + (f" --baseline {args.baseline}" if args.baseline else "")
            + "`",
            "",
            "Timed as a whole (after "
            f"{WARM_UP} untimed warm-up mails): first every mail stored by "
            "`services.receive_raw`, each committed on its own as the listener does (sha256, the "
            "row with the raw bytes, the processing task row enqueued on the `db` backend); then "
            "the worker path: the `process_inbound` task rows claimed and run as `db_worker` "
            "runs them (parse, loop/duplicate/rate checks, contact, threading, reply extraction, "
            "ticket or message through `tickets.services` with TicketEvents and delivery "
            "receipts, attachments stored, delivery task rows enqueued after commit). Not timed: "
            "building the corpus, migrations, running the consumers. PostgreSQL database "
            f"`{POSTGRES_DATABASE}`. Nothing lost means: every mail processed, one message per "
            "mail, one ticket per conversation of the corpus, one event per ticket and per "
            "message, one delivery task row per receipt, no processing task left.",
            "",
            f"Mix (seeded): {mix}; about 55% are replies threading by In-Reply-To/References "
            "with quoted history.",
            "",
            "| run | mails | wall s (store + work) | mails/s (wall) | CPU s (this process) | "
            "mails per CPU-second | queries per mail | tickets | messages | events | "
            "nothing lost |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            baseline_note,
            "",
            verdict,
            "",
            f"Where the time goes on SQLite (a separate run of {profiled_count} mails under "
            "cProfile, which slows everything about 2x; inclusive time per mail, nested phases "
            "overlap):",
            "",
            "| phase | ms per mail (profiled) | share of the run |",
            "|---|---|---|",
            *breakdown_rows,
        ]
    )
    write_section(ROOT / "docs" / "benchmarks.md", "Email ingest", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
