"""Page and search latency at 1,000,000 tickets: the inbox, a saved view, the ticket page, search.

    .venv/bin/python benchmarks/pages.py [--database sqlite,postgres] [--tickets 1000000,100000]

For each database and desk size: seed it with `seed.py`'s seeder (SQLite in PATRON_DATA_DIR
`<--data-dir>/<tickets>`, a temporary one without --data-dir; PostgreSQL in
`patron_bench_pages_<tickets>`, dropped and created), build the search index with
`reindex_all` (the seeder bypasses the `search_index` consumer, so the index starts empty; the
rebuild is timed), then send whole requests through Django's test `Client`, in process, as a
logged-in admin agent: warm-up requests first, then the measured ones. Reported: p50 and p95 of
each page in milliseconds and the SQL queries one request runs. Targets (issues 4 and 11): inbox,
saved view and ticket page p95 < 150 ms, search p95 < 200 ms on SQLite, at 1,000,000 tickets.
Results go to docs/benchmarks.md under "Pages and search at 1,000,000 tickets".

For development, `--data-dir DIR --reuse` keeps a seeded SQLite database between runs (and
`--reuse` keeps the PostgreSQL database), so only the measurement is repeated; `--seed-only`
seeds without indexing (a later `--prepare-only --reuse` migrates and indexes, so a long seed
can start before the index's shape is settled); `--explain` prints each page's slowest queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_description, write_section  # noqa: E402

SECTION = "Pages and search at 1,000,000 tickets"
FORMER_SECTION = "Pages and search at 100,000 tickets"
POSTGRES_DATABASE = "patron_bench_pages_{tickets}"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/{database}"
SAMPLE_SEED = 4321
TICKET_SAMPLE = 100
MIN_MESSAGES = 4  # "a ticket with several messages": the seeder's tickets with 2 or 3 replies
# A rare word: found in this many documents at most (and in two at least, so not a typo).
RARE_MAX_DOCUMENTS = 20
LATER_PAGE = 20  # "More results" followed this many times: paging stays as cheap as the first page
# The last figures before issue 11, 100,000 tickets on SQLite, a quiet machine (load average
# about 1.4), 2026-11-23, CPU p50 ms per page: what the issue set out from.
BEFORE_ISSUE_11 = {
    "inbox": 86.2,
    "saved_view": 83.8,
    "ticket": 40.9,
    "search_common": 242.3,
    "search_rare": 58.0,
}
TARGET_TICKETS = 1_000_000  # the desk size the targets are for (issue 11)
TARGETS_MS = {"inbox": 150.0, "saved_view": 150.0, "ticket": 150.0, "search": 200.0}


@dataclass
class Timing:
    page: str
    path: str
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    cpu_p50_ms: float
    cpu_p95_ms: float
    queries: int
    note: str = ""


@dataclass
class Outcome:
    database: str
    tickets: int
    seeded: bool
    seed_seconds: float | None
    reindex_seconds: float | None
    prepared_at: str | None
    documents: int
    timings: list[Timing] = field(default_factory=list)
    words: dict[str, dict[str, int | str]] = field(default_factory=dict)
    measured_at: str = ""
    # The previous way against the current one, in the same process: CPU ms medians.
    baselines: dict[str, list[float]] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)  # load average at the start and the end


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the same rule as benchmarks/services.py)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the child: one database, named by its environment ------------------------------------------


def prepare(count: int, *, reuse: bool, seed_only: bool = False) -> dict[str, Any]:
    """Seed and index the database unless `reuse` finds it done. Returns how long each took
    and when, kept beside the data (`prepared-<vendor>.json`) for a later `--reuse` run."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from patron.search.models import SearchDocument
    from patron.tickets.models import Ticket

    call_command("migrate", verbosity=0)
    record = Path(os.environ["PATRON_DATA_DIR"]) / f"prepared-{connection.vendor}.json"
    if reuse and Ticket.objects.count() == count and SearchDocument.objects.exists():
        log(f"Reusing the seeded database ({count:,} tickets, index built).")
        if record.exists():
            return {**json.loads(record.read_text()), "seeded": False}
        return {"seeded": False, "seed_seconds": None, "reindex_seconds": None, "at": None}
    seeded = Path(os.environ["PATRON_DATA_DIR"]) / f"seeded-{connection.vendor}.json"
    if seeded.exists() and Ticket.objects.count() == count:
        # Seeded by an earlier `--seed-only` run (under an older schema, say): index only.
        seed_seconds = float(json.loads(seeded.read_text())["seed_seconds"])
        log(f"Seeded earlier ({count:,} tickets, {seed_seconds:.1f} s); indexing…")
    elif Ticket.objects.exists():
        raise SystemExit("The database already holds tickets; start from an empty one.")
    else:
        from seed import seed  # benchmarks/seed.py: the same rows as the Seed benchmark

        log(f"Seeding {count:,} tickets…")
        seed_seconds = seed(count, progress=False).seconds
        seeded.write_text(json.dumps({"seed_seconds": seed_seconds}))
        log(f"Seeded in {seed_seconds:.1f} s.")
    if seed_only:
        return {"seeded": True, "seed_seconds": seed_seconds, "reindex_seconds": None, "at": None}
    log("Rebuilding the search index…")
    from patron.search.services import reindex_all

    started = time.perf_counter()
    counts = reindex_all()
    reindex_seconds = time.perf_counter() - started
    log(f"Indexed {counts} in {reindex_seconds:.1f} s.")
    prepared = {
        "seed_seconds": seed_seconds,
        "reindex_seconds": reindex_seconds,
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    record.write_text(json.dumps(prepared))
    return {**prepared, "seeded": True}


def analyze() -> None:
    """Refresh the planner's statistics as autovacuum would after a bulk load (PostgreSQL)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def document_frequencies() -> Counter[str]:
    """In how many documents each word occurs (title or body). On SQLite FTS5 knows
    (`fts5vocab`, by row: the same count, without reading 1,000,000 documents in Python)."""
    from django.db import connection

    from patron.search.models import SearchDocument

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words "
                "USING fts5vocab(main, search_fts, row)"
            )
            cursor.execute("SELECT term, doc FROM temp.search_words")
            return Counter(dict(cursor.fetchall()))
    frequencies: Counter[str] = Counter()
    rows = SearchDocument.objects.values_list("title_terms", "body_terms")
    for title, body in rows.iterator(chunk_size=2000):
        frequencies.update(set(title.split()) | set(body.split()))
    return frequencies


def pick_words(frequencies: Counter[str]) -> dict[str, tuple[str, int]]:
    """The most frequent word of three letters or more, and a word found in a handful of
    documents (the least frequent of at least 2, alphabetical first), with their frequencies."""
    words = [(w, n) for w, n in frequencies.items() if w.isalpha() and len(w) >= 3]
    common = max(words, key=lambda item: (item[1], item[0]))
    # A corpus of templates may have no word that rare (at 1,000,000 tickets): the rarest then.
    fewest = min((n for w, n in words if n >= 2 and len(w) >= 5), default=0)
    rare_max = max(RARE_MAX_DOCUMENTS, fewest)
    rare_candidates = sorted((n, w) for w, n in words if 2 <= n <= rare_max and len(w) >= 5)
    if not rare_candidates:
        raise SystemExit("No rare word in the corpus: seed more tickets.")
    rare_n, rare = rare_candidates[len(rare_candidates) // 2]
    return {"common": common, "rare": (rare, rare_n)}


def matches(word: str) -> int:
    """How many documents the search for `word` matches (a prefix too, as the page asks)."""
    from django.db import connection

    from patron.search.models import SearchDocument
    from patron.search.text import Terms

    terms = Terms.parse(word)
    if connection.vendor == "postgresql":
        from patron.search import postgres

        return postgres.matching(SearchDocument.objects.all(), terms.tsquery()).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM search_fts WHERE search_fts MATCH %s", [terms.fts5()])
        return int(cursor.fetchone()[0])


def measure(
    count: int,
    *,
    reuse: bool,
    requests: int,
    warmup: int,
    explain: bool,
    prepare_only: bool,
    seed_only: bool = False,
) -> dict[str, Any]:
    loads_at_start = load_average()
    prepared = prepare(count, reuse=reuse, seed_only=seed_only)
    if seed_only:
        return {"database": "", "tickets": count, **prepared}
    analyze()
    if prepare_only:
        return {"database": "", "tickets": count, **prepared}

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from patron.people import agents as people
    from patron.people.models import Role
    from patron.search.models import SearchDocument
    from patron.search.queries import query as search
    from patron.tickets.models import SavedView, Ticket

    user_model = get_user_model()
    admin = user_model.objects.filter(username="bench-admin").first()
    if admin is None:
        admin = people.create_agent(
            username="bench-admin", email="bench-admin@desk.example", password=None, role=Role.ADMIN
        ).user
    conditions = [
        {"field": "status", "op": "eq", "value": "open"},
        {"field": "relationship", "op": "eq", "value": "client"},
        {"field": "priority", "op": "eq", "value": "high"},
    ]
    saved, _ = SavedView.objects.get_or_create(
        owner=admin, name="Open high-priority clients", defaults={"rule": {"all": conditions}}
    )
    rng = random.Random(SAMPLE_SEED)
    numbers = list(
        Ticket.objects.filter(message_count__gte=MIN_MESSAGES, merged_into__isnull=True)
        .order_by("number")
        .values_list("number", flat=True)
    )
    sample = rng.sample(numbers, min(TICKET_SAMPLE, len(numbers)))
    log("Counting words in the index…")
    words = pick_words(document_frequencies())
    word_info: dict[str, dict[str, int | str]] = {
        name: {"word": word, "documents": n, "matches": matches(word)}
        for name, (word, n) in words.items()
    }
    for name, info in word_info.items():
        log(
            f"{name} word: {info['word']!r} in {info['documents']:,} documents "
            f"({info['matches']:,} matches as typed, prefix included)"
        )

    client = Client()
    client.force_login(admin)
    later_page: str | None = None  # the cursor after the common word's LATER_PAGE-th page
    for _ in range(LATER_PAGE):
        later_page = search(
            str(word_info["common"]["word"]), user=admin, cursor=later_page
        ).next_cursor
    pages: list[tuple[str, Callable[[int], str], str]] = [
        ("inbox", lambda i: "/tickets/", "All open, first page"),
        (
            "saved_view",
            lambda i: f"/tickets/?view=saved-{saved.pk}",
            "status open + relationship client + priority high",
        ),
        (
            "ticket",
            lambda i: f"/tickets/{sample[i % len(sample)]}/",
            f"{len(sample)} tickets with {MIN_MESSAGES}+ messages, in turn",
        ),
        (
            "search_common",
            lambda i: f"/search/?q={word_info['common']['word']}",
            f"q={word_info['common']['word']}",
        ),
        (
            "search_common_next",
            lambda i: f"/search/?q={word_info['common']['word']}&cursor={later_page}",
            f"q={word_info['common']['word']}, the page after the first {LATER_PAGE} pages",
        ),
        (
            "search_rare",
            lambda i: f"/search/?q={word_info['rare']['word']}",
            f"q={word_info['rare']['word']}",
        ),
    ]
    timings = []
    for page, url, note in pages:
        for i in range(warmup):
            check(client.get(url(i + requests)), url(i))
        with CaptureQueriesContext(connection) as captured:
            check(client.get(url(0)), url(0))
        queries = list(captured.captured_queries)  # the next request clears the log
        if explain:
            show_queries(page, queries)
        seconds, cpu_seconds = [], []
        for i in range(requests):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(url(i))
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(time.process_time() - cpu_started)
            check(response, url(i))
        ms = [s * 1000 for s in seconds]
        cpu_ms = [s * 1000 for s in cpu_seconds]
        timing = Timing(
            page=page,
            path=url(0),
            requests=requests,
            p50_ms=percentile(ms, 0.5),
            p95_ms=percentile(ms, 0.95),
            max_ms=max(ms),
            cpu_p50_ms=percentile(cpu_ms, 0.5),
            cpu_p95_ms=percentile(cpu_ms, 0.95),
            queries=len(queries),
            note=note,
        )
        log(
            f"{page:14} p50 {timing.p50_ms:7.1f} ms  p95 {timing.p95_ms:7.1f} ms  "
            f"max {timing.max_ms:7.1f} ms  CPU p50 {timing.cpu_p50_ms:6.1f} ms  "
            f"p95 {timing.cpu_p95_ms:6.1f} ms  {timing.queries} queries"
        )
        timings.append(timing)
    outcome = Outcome(
        database=connection.vendor,
        tickets=Ticket.objects.count(),
        seeded=bool(prepared["seeded"]),
        seed_seconds=prepared["seed_seconds"],
        reindex_seconds=prepared["reindex_seconds"],
        prepared_at=prepared["at"],
        documents=SearchDocument.objects.count(),
        timings=timings,
        words=word_info,
        baselines=baselines(admin),
        measured_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        loads=[loads_at_start, load_average()],
    )
    result = asdict(outcome)
    measured = Path(os.environ["PATRON_DATA_DIR"]) / f"measured-{connection.vendor}.json"
    measured.write_text(json.dumps(result))
    return result


BASELINE_ROUNDS = 15


def baselines(admin: Any) -> dict[str, list[float]]:
    """The inbox's counts and first page the way they were read before issue 11 (one aggregate
    over every built-in view's tickets; the whole view ordered), against `tickets.inbox` now,
    alternating in one process: [before, now] CPU ms medians. Both must give the same answer."""
    import statistics

    from django.db.models import Count, Q
    from django.utils import timezone

    from patron.tickets import inbox

    now = timezone.now()
    view = inbox.resolve_view(admin, "all_open", now=now)

    def counts_before() -> dict[str, int]:
        aggregates, selected = {}, Q(pk__in=[])
        for builtin in inbox.BUILTIN_VIEWS:
            if not builtin.disabled_reason:
                aggregates[builtin.key] = Count("id", filter=builtin.filter(admin, now))
                selected |= builtin.filter(admin, now)
        found = inbox.base_tickets(admin).filter(selected).aggregate(**aggregates)
        return {key: int(value or 0) for key, value in found.items()}

    def counts_now() -> dict[str, int]:
        return inbox.view_counts(admin, [], now=now)

    def page_before() -> list[int]:
        tickets = inbox.list_tickets(inbox.base_tickets(admin).filter(view.q))
        ordered = tickets.order_by("-updated_at", "-id")  # what sort "-updated" orders by
        return [ticket.pk for ticket in ordered[: inbox.PAGE_SIZE]]

    def page_now() -> list[int]:
        tickets = inbox.list_tickets(inbox.base_tickets(admin).filter(view.q))
        return [t.pk for t in inbox.paginate(tickets, key="updated", descending=True).tickets]

    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "inbox counts": (counts_before, counts_now),
        "inbox first page": (page_before, page_now),
    }
    medians = {}
    for name, (before, current) in pairs.items():
        if before() != current():
            raise SystemExit(f"{name}: the previous way and the current one disagree.")
        spent: tuple[list[float], list[float]] = ([], [])
        for _ in range(BASELINE_ROUNDS):
            for way, times in zip((before, current), spent, strict=True):
                started = time.process_time()
                way()
                times.append((time.process_time() - started) * 1000)
        medians[name] = [statistics.median(times) for times in spent]
    return medians


def check(response: Any, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}, not 200.")


def show_queries(page: str, queries: list[dict[str, str]]) -> None:
    log(f"--- {page}: {len(queries)} queries, slowest first")
    for query in sorted(queries, key=lambda q: -float(q["time"]))[:6]:
        log(f"{float(query['time']) * 1000:8.1f} ms  {query['sql'][:600]}")


# --- the parent: prepare each database, run a child, write the report ---------------------------


def run_child(database: str, tickets: int, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = (
        str(Path(args.data_dir) / str(tickets))
        if args.data_dir
        else tempfile.mkdtemp(prefix="patron-bench-pages-")
    )
    earlier = Path(data_dir) / f"measured-{database.replace('postgres', 'postgresql')}.json"
    if tickets in args.earlier and earlier.exists():
        log(f"Taking the measurement of {earlier} ({tickets:,} tickets) made earlier.")
        return {**json.loads(earlier.read_text()), "database": database}
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATRON_DATA_DIR"] = str(Path(data_dir).resolve())
    (Path(data_dir) / "static").mkdir(exist_ok=True)  # collectstatic's place; none is needed
    env["PATRON_TASK_BACKEND"] = "db"
    env["PATRON_ALLOWED_HOSTS"] = "testserver"
    env.setdefault("PATRON_SECRET_KEY", "benchmark-secret-key-0123456789-abcdefghijkl")
    if database == "postgres":
        pg = ["-h", "127.0.0.1", "-U", "postgres"]
        name = POSTGRES_DATABASE.format(tickets=tickets)
        if not args.reuse:
            subprocess.run(["dropdb", *pg, "--if-exists", name], check=True)
        subprocess.run(["createdb", *pg, name], check=False, stderr=subprocess.DEVNULL)
        env["DATABASE_URL"] = POSTGRES_URL.format(database=name)
    else:
        env.pop("DATABASE_URL", None)
        if not args.reuse and (Path(data_dir) / "patron.sqlite3").exists():
            raise SystemExit(f"{data_dir} already holds a database; add --reuse to measure it.")
    command = [
        sys.executable,
        __file__,
        "--child",
        "--tickets",
        str(tickets),
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
    ]
    command += ["--reuse"] if args.reuse else []
    command += ["--explain"] if args.explain else []
    command += ["--prepare-only"] if args.prepare_only else []
    command += ["--seed-only"] if args.seed_only else []
    try:
        out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["database"] = database
    return result


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def target_of(page: str) -> float | None:
    return TARGETS_MS.get("search" if page.startswith("search") else page)


LABELS = {
    "inbox": "inbox (`/tickets/`)",
    "saved_view": "saved view, 3 conditions",
    "ticket": "ticket page",
    "search_common": "search, common word",
    "search_common_next": f"search, common word, page {LATER_PAGE + 1}",
    "search_rare": "search, rare word",
}


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    command = (
        f".venv/bin/python benchmarks/pages.py --database {args.database} "
        f"--tickets {args.tickets} --requests {args.requests} --warmup {args.warmup}"
    )
    if all(result["seeded"] for result in results):
        shown = f"Command: `{command}`  "
    else:
        shown = (
            f"Commands: `{command} --data-dir DIR --prepare-only` (seed and index), then "
            f"`{command} --data-dir DIR --reuse` (measure)  "
        )
    sizes = sorted({int(result["tickets"]) for result in results})
    lines = [
        shown,
        machine_description(),
        "",
    ]
    if sizes[-1] < TARGET_TICKETS:
        lines += [
            f"**Not measured at {TARGET_TICKETS:,} tickets**: the targets are for that desk; "
            f"this run measured {', '.join(f'{n:,}' for n in sizes)} tickets only.",
            "",
        ]
    lines += [
        "| database | tickets | page | p50 ms | p95 ms | max ms | CPU p50 ms | CPU p95 ms "
        "| queries | target p95 | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for t in result["timings"]:
            target = target_of(t["page"])
            sqlite = result["database"] == "sqlite"
            met = ("yes" if t["p95_ms"] < target else "**no**") if target and sqlite else "-"
            shown = f"< {target:.0f} ms" if target and sqlite else "none"
            lines.append(
                f"| {result['database']} | {result['tickets']:,} | {LABELS[t['page']]} "
                f"| {t['p50_ms']:.1f} "
                f"| {t['p95_ms']:.1f} | {t['max_ms']:.1f} | {t['cpu_p50_ms']:.1f} "
                f"| {t['cpu_p95_ms']:.1f} | {t['queries']} | {shown} | {met} |"
            )
    lines += [
        "",
        "| database | tickets | search documents | seed s | reindex s | seeded and indexed "
        "| measured | load average at start, end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        seed_s = f"{result['seed_seconds']:.1f}" if result["seed_seconds"] is not None else "-"
        reindex_s = (
            f"{result['reindex_seconds']:.1f}" if result["reindex_seconds"] is not None else "-"
        )
        lines.append(
            f"| {result['database']} | {result['tickets']:,} | {result['documents']:,} "
            f"| {seed_s} | {reindex_s} | {result['prepared_at'] or '-'} "
            f"| {result['measured_at']} | {' / '.join(result['loads'])} |"
        )
    compared = [
        f"| {result['database']} | {result['tickets']:,} | {name} | {before:.1f} | {now:.1f} "
        f"| {before / now:.1f}x |"
        for result in results
        for name, (before, now) in result.get("baselines", {}).items()
    ]
    if compared:
        lines += [
            "",
            "The previous way against the current one, alternating in the same process "
            f"({BASELINE_ROUNDS} rounds, CPU ms medians, same answers checked): counts as one "
            "aggregate over every built-in view's tickets, and the All open view ordered whole.",
            "",
            "| database | tickets | read | before ms | now ms | ratio |",
            "|---|---|---|---|---|---|",
            *compared,
        ]
    earlier = [
        f"{LABELS[t['page']]} {BEFORE_ISSUE_11[t['page']]:.1f} → {t['cpu_p50_ms']:.1f}"
        for result in results
        if result["database"] == "sqlite" and result["tickets"] == 100_000
        for t in result["timings"]
        if t["page"] in BEFORE_ISSUE_11
    ]
    if earlier:
        lines += [
            "",
            "Against the last figures before issue 11 (100,000 tickets on SQLite, 2026-11-23, a "
            "quiet machine, load average about 1.4), CPU p50 ms: "
            f"{'; '.join(earlier)}. CPU time swells on a machine this loaded too: the ticket "
            "page, which this work does not touch, is the measure of that swelling; the "
            "same-process ratios above are the fair comparison for the inbox.",
        ]
    if not any(result["database"] == "postgres" for result in results):
        lines += [
            "",
            "PostgreSQL was not measured in this run; the search tests (`tests/search`, the "
            "same hits in the same order, paging past the first page) pass on it.",
        ]
    words = []
    for result in results:
        for name, info in result["words"].items():
            words.append(
                f"{name} `{info['word']}` on {result['database']} at {result['tickets']:,} "
                f"tickets ({info['documents']:,} "
                f"documents hold the word, {info['matches']:,} match it as a prefix)"
            )
    lines += [
        "",
        f"Each page: {args.warmup} warm-up requests, then {args.requests} measured, one at a "
        "time, through Django's test `Client` in process (the whole middleware stack, the "
        "session of a logged-in admin agent, template rendering; no network, no web server). "
        "Queries = SQL statements one request runs. The saved view is a SavedView with three "
        "conditions (status open, relationship client, priority high). The ticket page cycles "
        f"through {TICKET_SAMPLE} random tickets with {MIN_MESSAGES} or more messages. Search "
        "words are chosen from the seeded corpus by document frequency: the most frequent "
        "word of three letters or more, and the median of the words that occur in 2 to "
        f"{RARE_MAX_DOCUMENTS} documents (the rarest, where none is that rare); "
        f"{'; '.join(words)}.",
        "",
        "The seeder (`benchmarks/seed.py`) writes rows with `bulk_create` and bypasses the "
        "`search_index` consumer, so the index is built afterwards by `reindex_all` (what "
        "`patron manage reindex` runs); reindex s is that rebuild, tickets, contacts and "
        "organizations. PostgreSQL runs `ANALYZE` after the load, as autovacuum would; it "
        "connects afresh for every request (`CONN_MAX_AGE` 0, the shipped setting). Targets "
        "(issues 4 and 11) apply to SQLite: inbox, saved view and ticket page p95 < 150 ms, "
        "search p95 < 200 ms. "
        "CPU ms is the measuring process's own CPU time per request (SQLite runs inside it; "
        "PostgreSQL's server work is not in it): on a loaded machine it shows what a request "
        "costs when the wall-clock figures mostly show waiting for a core.",
        "",
        "What these figures rest on. Search (`search.queries`): hits come in two groups, "
        "every query word in the title first, then the rest, each by a fixed order key "
        "(contacts, organizations, tickets, newest first) that is the FTS5 rowid, so FTS5 hands "
        "the matches out in order and a page stops reading after its rows; the cursor is "
        "(group, key), so page 21 starts where page 20 ended, and no count of all matches is "
        'shown (it would cost what ranking every match did; "More results" says whether '
        "there is another page). PostgreSQL gives the same hits in the same order (title words "
        "weighted A in the vector; `ORDER BY order_key`, served by its unique index or a sort "
        "of the matches, as its planner judges). The permission scope is a correlated EXISTS "
        "per candidate, not an IN list of every visible ticket. Inbox (`tickets.inbox`): the "
        "first page is looked for among the 1,000 most recently updated tickets (then 10,000, "
        "then all), which the (status, updated_at) index serves; rows found there are "
        "exactly the first rows, as every other row sorts after them. The built-in counts are "
        "three queries over the statuses they select: the queue views from a covering index "
        "(status, assignee, team, merged into, requester), clients and customers with each "
        "open ticket's requester, Solved from a covering (status, solved_at, ...) range; each "
        "saved view is a COUNT of its own. Counts therefore grow with the open backlog (the "
        "seeder's last 14 days: about 3 % of the desk), not with the desk. The ticket page's "
        "previous/next queries are bounded by `updated_at` and served by an index on "
        "(updated_at, id). Reindexing reads tickets and messages as plain rows and skips "
        "Unicode decomposition for ASCII text.",
        "",
        "Load average (1, 5, 15 min) at the start and end of each measurement: in the table "
        "of desks above (2 cores, shared with other work running at the same time: the "
        "wall-clock figures are mostly waiting for a core).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--database", default="sqlite,postgres", help="sqlite, postgres or both, comma-separated"
    )
    parser.add_argument(
        "--tickets", default="1000000", help="desk sizes, comma-separated (1000000,100000)"
    )
    parser.add_argument("--requests", type=int, default=100, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per page")
    parser.add_argument("--data-dir", help="keep the SQLite database here (for --reuse)")
    parser.add_argument(
        "--reuse", action="store_true", help="measure an already seeded database again"
    )
    parser.add_argument("--explain", action="store_true", help="print each page's slowest SQL")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="seed and index into --data-dir, measure nothing (measure later with --reuse)",
    )
    parser.add_argument(
        "--seed-only",
        action="store_true",
        help="seed into --data-dir without indexing (a later --prepare-only --reuse indexes)",
    )
    parser.add_argument(
        "--earlier",
        default="",
        help="desk sizes (comma-separated) whose last measurement in --data-dir is reported "
        "again rather than repeated (a comparison row measured in an earlier run)",
    )
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(
            int(args.tickets),
            reuse=args.reuse,
            requests=args.requests,
            warmup=args.warmup,
            explain=args.explain,
            prepare_only=args.prepare_only,
            seed_only=args.seed_only,
        )
        sys.stdout.write(json.dumps(result) + "\n")
        return 0

    args.earlier = {int(n) for n in args.earlier.split(",") if n}
    databases = args.database.split(",")
    for database in databases:
        if database not in ("sqlite", "postgres"):
            parser.error(f"--database must be sqlite or postgres, not {database!r}")
    loads = [load_average()]
    log(f"Load average: {loads[0]}")
    results = []
    for database in databases:
        for tickets in [int(n) for n in args.tickets.split(",")]:
            log(f"== {database}, {tickets:,} tickets")
            results.append(run_child(database, tickets, args))
    if args.prepare_only or args.seed_only:
        print(json.dumps(results))
        return 0
    loads.append(load_average())
    log(f"Load average: {loads[-1]}")
    body = report(results, args)
    print(body)
    if not args.no_report:
        path = ROOT / "docs" / "benchmarks.md"
        # This section was "… at 100,000 tickets": renamed in place, so it keeps its position.
        path.write_text(path.read_text().replace(f"## {FORMER_SECTION}\n", f"## {SECTION}\n"))
        write_section(path, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
