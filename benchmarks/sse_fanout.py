"""Live updates: how long a committed reply takes to reach every agent's open SSE stream.

    .venv/bin/python benchmarks/sse_fanout.py [--database sqlite,postgres] [--agents 50]
        [--rounds 40] [--mode poll,redis] [--streams counts,plain] [--tickets 10000]

For each database: a fresh one (SQLite in a temporary PATRON_DATA_DIR, PostgreSQL in
`patron_bench_sse`, dropped and created), migrated and seeded with `seed.py`'s seeder; N agents
made with `people.services.create_agent`, each with a logged-in session. Then, for each mode
(`poll`: the embedded hub polling `live.signature()` every 0.5 s; `redis`: the server and this
process both with REDIS_URL, so `wake.announce` publishes after the commit) and each kind of
stream (`counts`: `/live/stream?counts=1`, as an inbox page opens it; `plain`: without counts),
a real uvicorn process is started on that database and N concurrent SSE connections are opened
to it, one per agent, with asyncio streams. Each round this process calls
`tickets.services.reply` on an open ticket (in a thread: the event loop keeps reading), takes t0
when it returns (after the commit), and waits until every connection has received the `ticket`
frame whose JSON `id` is the reply's `message_added` event. Reported per round: the time until
the last connection has it, and until the median one has it. Also the server's RSS with the N
streams open against none. Results go to docs/benchmarks.md under "Live updates: SSE fan-out".

For development, `--data-dir DIR --reuse` keeps a seeded SQLite database between runs (and
`--reuse` keeps `patron_bench_sse`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_description, write_section  # noqa: E402

SECTION = "Live updates: SSE fan-out"
POSTGRES_DATABASE = "patron_bench_sse"
POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/13"
SECRET_KEY = "benchmark-secret-key-0123456789-abcdefghijkl"
APP = "patron.asgi:application"
SAMPLE_SEED = 2468
TARGET_SECONDS = 1.0  # issue 4: p95 of "reached all 50 agents" under a second
GAP_SECONDS = (0.3, 1.0)  # between rounds, uniform: not a multiple of the hub's 0.5 s poll
ROUND_TIMEOUT_SECONDS = 15.0  # a connection that has not received the frame by then has missed it
READY_TIMEOUT_SECONDS = 120.0  # every connection has its first frames
SETTLE_SECONDS = 1.5  # after the first frames: let the counts interval run out
SERVER_START_TIMEOUT_SECONDS = 60

# What the investigation of 2026-11-23 found (py-spy on the server, timings in process, and an
# experiment with a patched server); it explains the table above it in docs/benchmarks.md.
FINDINGS = """\
What the first runs found, and what changed (2026-11-23, on this machine):

- **Every stream computed the inbox counts itself, and its `ticket` frame waited for them.**
  With `counts=1` each reply made every one of the 50 streams run `inbox.view_counts` before
  its event frame went out: reach-all p95 was 2,274 ms (SQLite) and 2,425 ms (PostgreSQL) at
  10,000 tickets, and 10,964 ms at 100,000 (SQLite; py-spy put 1,000 of 1,109 server samples
  in `view_counts`). Since commit 3099da7 the stream sends the events first and the counts in
  a second read, and the built-in views are counted once per process for every agent who sees
  every ticket (only *My open*, saved views and restricted agents are counted per agent). The
  counts rows above are measured after that change; at 100,000 tickets the counts stream now
  reaches all 50 agents at p95 785 ms.
- **Each stream still reads the new events on its own** (new ids; the events with ticket and
  actors; the unread count): about 10 ms of mostly ORM Python per stream under one GIL, so 50
  streams take 0.2 to 0.4 s per reply after the wake-up (up to 0.5 s of polling in the
  embedded mode, milliseconds with Redis). Not yet done: read each batch once per hub wake-up
  and let each stream filter it by visibility in Python, and ask for the unread count only when
  the notification part of the signature moved.
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the same rule as benchmarks/services.py)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Run:
    database: str
    mode: str
    streams: str
    agents: int
    rounds: int
    all_s: list[float] = field(default_factory=list)  # per round: the last connection
    median_s: list[float] = field(default_factory=list)  # per round: the median connection
    missed: int = 0  # (round, connection) pairs without the frame after ROUND_TIMEOUT_SECONDS
    reconnects: int = 0  # streams the server ended (MAX_STREAM_SECONDS) and the client reopened
    connect_s: float = 0.0  # from opening the first connection to all first frames
    rss_idle_mb: float = 0.0
    rss_streams_mb: float = 0.0
    round_seconds: float = 0.0  # wall clock of all rounds, pauses included
    server_cpu_s: float = 0.0  # the server's user + system CPU over all rounds
    tickets: int = 0
    load: str = ""  # load average when the run started
    measured: str = ""  # UTC time when the run started


# --- the SSE client ------------------------------------------------------------------------------


class Stream:
    """One agent's `/live/stream` connection: remembers when each `ticket` event id arrived."""

    def __init__(self, port: int, cookie: str, query: str) -> None:
        self.port = port
        self.cookie = cookie
        self.query = query
        self.arrived: dict[int, float] = {}
        self.kinds: set[str] = set()
        self.ready = asyncio.Event()
        self.wanted: set[str] = {"bell", "counts"} if "counts=1" in query else {"bell"}
        self.waiters: dict[int, asyncio.Event] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.last_id = ""  # the last SSE `id:`, sent back as Last-Event-ID on reconnecting
        self.reconnects = 0

    async def open(self) -> None:
        """Connect and read the response's head; then read frames in a task, reconnecting
        with Last-Event-ID when the server ends the stream (after MAX_STREAM_SECONDS), as a
        browser's EventSource does."""
        reader, chunked = await self._connect()
        self.task = asyncio.get_running_loop().create_task(self._run(reader, chunked))

    async def _connect(self) -> tuple[asyncio.StreamReader, bool]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
        writer.write(
            (
                f"GET /live/stream?{self.query} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\n"
                "Accept: text/event-stream\r\n"
                f"{resume}Cookie: {self.cookie}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = (await reader.readline()).decode()
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode().strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if " 200 " not in status or not headers.get("content-type", "").startswith(
            "text/event-stream"
        ):
            raise RuntimeError(f"/live/stream answered {status.strip()!r} {headers}")
        return reader, headers.get("transfer-encoding", "").lower() == "chunked"

    async def _run(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        try:
            while True:
                await self._read(reader, chunked)
                self.reconnects += 1
                if self.writer is not None:
                    self.writer.close()
                reader, chunked = await self._connect()
        except (OSError, asyncio.IncompleteReadError, ValueError, RuntimeError) as error:
            self.error = error  # ValueError: a frame that is not UTF-8 or not JSON

    async def _read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        """Read frames until the server ends the response."""
        buffer = b""
        while True:
            if chunked:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = await reader.readexactly(size)
                await reader.readexactly(2)
            else:
                data = await reader.read(65536)
                if not data:
                    return
            now = time.perf_counter()
            buffer += data  # bytes: a chunk may end inside a UTF-8 character
            while b"\n\n" in buffer:
                message, buffer = buffer.split(b"\n\n", 1)
                self._dispatch(message.decode(), now)

    def _dispatch(self, message: str, now: float) -> None:
        event, data = "message", []
        for line in message.split("\n"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                self.last_id = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)
        if not data:
            return  # a comment, `retry:` or a bare `id:`
        self.kinds.add(event)
        if event == "ticket":
            event_id = int(json.loads("\n".join(data))["id"])
            self.arrived.setdefault(event_id, now)
            waiter = self.waiters.pop(event_id, None)
            if waiter is not None:
                waiter.set()
        if not self.ready.is_set() and self.wanted <= self.kinds:
            self.ready.set()

    async def wait_for(self, event_id: int, timeout: float) -> float | None:
        if event_id not in self.arrived:
            waiter = self.waiters.setdefault(event_id, asyncio.Event())
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                return None
        return self.arrived[event_id]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


# --- the uvicorn server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_server(
    redis: bool, log_path: Path, app: str = APP
) -> tuple[subprocess.Popen[bytes], int]:
    """uvicorn on this process's database (as tests/browser/conftest.py's start_server does)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        PATRON_ALLOWED_HOSTS="127.0.0.1,localhost",
        PATRON_SITE_URL=url,
        PATRON_DEBUG="false",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if redis:
        env["REDIS_URL"] = REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "uvicorn", app]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--timeout-graceful-shutdown", "2"]
    with log_path.open("a") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while not _healthy(url):
        if server.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"uvicorn did not start; its output:\n{log_path.read_text()}")
        time.sleep(0.1)
    return server, port


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# --- the child: one database, named by its environment ------------------------------------------


def prepare(count: int, *, reuse: bool) -> float | None:
    """Migrate and seed unless `reuse` finds it done; the seed's seconds."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from patron.tickets.models import Ticket

    call_command("migrate", verbosity=0)
    seconds = None
    if reuse and Ticket.objects.count() >= count:
        log(f"Reusing the seeded database ({Ticket.objects.count():,} tickets).")
    else:
        if Ticket.objects.exists():
            raise SystemExit("The database already holds tickets; start from an empty one.")
        from seed import seed  # benchmarks/seed.py

        log(f"Seeding {count:,} tickets…")
        seconds = seed(count, progress=False).seconds
        log(f"Seeded in {seconds:.1f} s.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return seconds


def agents_and_cookies(count: int) -> list[str]:
    """N agents (created once) and a fresh logged-in session each, as Cookie header values."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from patron.people import services as people

    user_model = get_user_model()
    cookies = []
    for n in range(count):
        username = f"bench-sse-{n}"
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = people.create_agent(
                username=username, email=f"{username}@desk.example", password=None
            ).user
        client = Client()
        client.force_login(user)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
    return cookies


def reply_once(number: int, author_id: int, round_no: int) -> tuple[float, int]:
    """Reply on ticket `number`; (t0 = when the service returned, the message_added event id)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from patron.tickets import services
    from patron.tickets.models import Ticket, TicketEvent

    ticket = Ticket.objects.get(number=number)
    author = get_user_model().objects.get(pk=author_id)
    message = services.reply(
        ticket, author=author, body=f"Benchmark reply {round_no}.", now=timezone.now()
    )
    t0 = time.perf_counter()
    event = (
        TicketEvent.objects.filter(ticket=ticket, kind="message_added")
        .order_by("-pk")
        .values_list("pk", "data")
        .first()
    )
    assert event is not None and event[1].get("message_id") == message.pk, event
    return t0, int(event[0])


async def measure_run(
    run: Run, *, port: int, pid: int, cookies: list[str], numbers: list[int], author_id: int
) -> None:
    loop = asyncio.get_running_loop()
    database_thread = ThreadPoolExecutor(max_workers=1)  # one Django connection for the replies
    query = "counts=1" if run.streams == "counts" else ""
    streams = [Stream(port, cookie, query) for cookie in cookies]
    rng = random.Random(SAMPLE_SEED)
    try:
        run.rss_idle_mb = rss_mb(pid)
        started = time.perf_counter()
        await asyncio.gather(*(stream.open() for stream in streams))
        await asyncio.wait_for(
            asyncio.gather(*(stream.ready.wait() for stream in streams)), READY_TIMEOUT_SECONDS
        )
        run.connect_s = time.perf_counter() - started
        log(f"  {len(streams)} streams open with their first frames in {run.connect_s:.2f} s")
        await asyncio.sleep(SETTLE_SECONDS)
        rounds_started, cpu_started = time.perf_counter(), cpu_seconds(pid)
        for round_no in range(run.rounds):
            await asyncio.sleep(rng.uniform(*GAP_SECONDS))
            number = numbers[round_no % len(numbers)]
            t0, event_id = await loop.run_in_executor(
                database_thread, reply_once, number, author_id, round_no
            )
            arrivals = await asyncio.gather(
                *(stream.wait_for(event_id, ROUND_TIMEOUT_SECONDS) for stream in streams)
            )
            # A connection that missed the frame counts as ROUND_TIMEOUT_SECONDS late.
            late = [ROUND_TIMEOUT_SECONDS if at is None else at - t0 for at in arrivals]
            run.missed += arrivals.count(None)
            run.all_s.append(max(late))
            run.median_s.append(statistics.median(late))
            dead = [s.error for s in streams if s.error is not None]
            if dead:
                raise RuntimeError(f"{len(dead)} streams broke: {dead[0]!r}")
        run.round_seconds = time.perf_counter() - rounds_started
        run.server_cpu_s = cpu_seconds(pid) - cpu_started
        run.rss_streams_mb = rss_mb(pid)
        run.reconnects = sum(stream.reconnects for stream in streams)
    finally:
        await asyncio.gather(*(stream.close() for stream in streams))
        database_thread.shutdown()


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    prepare(args.tickets, reuse=args.reuse)
    from django.conf import settings
    from django.db import connection

    from patron.tickets.models import Status, Ticket

    cookies = agents_and_cookies(args.agents)
    from django.contrib.auth import get_user_model

    author_id = get_user_model().objects.get(username="bench-sse-0").pk
    open_numbers = list(
        Ticket.objects.filter(status__in=(Status.OPEN, Status.PENDING), merged_into__isnull=True)
        .order_by("number")
        .values_list("number", flat=True)
    )
    ticket_count = Ticket.objects.count()
    runs = []
    log_path = Path(os.environ["PATRON_DATA_DIR"]) / "uvicorn.log"
    for mode in args.mode.split(","):
        for streams in args.streams.split(","):
            run = Run(
                database=connection.vendor,
                mode=mode,
                streams=streams,
                agents=args.agents,
                rounds=args.rounds,
                tickets=ticket_count,
                load=load_average(),
                measured=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
            )
            rng = random.Random(f"{SAMPLE_SEED}-{mode}-{streams}")
            numbers = rng.sample(open_numbers, min(args.rounds, len(open_numbers)))
            # wake.announce reads this setting when a service commits.
            settings.REDIS_URL = REDIS_URL if mode == "redis" else ""
            connection.close()  # the thread that replies opens its own
            log(f"- {mode}, {streams}: starting uvicorn")
            server, port = start_server(mode == "redis", log_path, args.app)
            try:
                asyncio.run(
                    measure_run(
                        run,
                        port=port,
                        pid=server.pid,
                        cookies=cookies,
                        numbers=numbers,
                        author_id=author_id,
                    )
                )
            finally:
                stop_server(server)
            log("  " + summary(run))
            if os.environ.get("SSE_BENCH_VERBOSE"):
                log("  rounds (ms): " + " ".join(ms(s) for s in run.all_s))
            runs.append(asdict(run))
    return runs


def summary(run: Run) -> str:
    if not run.all_s:
        return "no round completed"
    return (
        f"reach all: p50 {percentile(run.all_s, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(run.all_s, 0.95) * 1000:.0f} ms; median connection: "
        f"p50 {percentile(run.median_s, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(run.median_s, 0.95) * 1000:.0f} ms; missed {run.missed}; "
        f"RSS {run.rss_idle_mb:.0f} -> {run.rss_streams_mb:.0f} MB; "
        f"{run.reconnects} reconnects"
    )


# --- the parent: prepare each database, run a child, write the report ---------------------------


def run_child(database: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="patron-bench-sse-")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATRON_DATA_DIR"] = str(Path(data_dir).resolve())
    (Path(data_dir) / "static").mkdir(exist_ok=True)
    env["PATRON_TASK_BACKEND"] = "db"
    env["PATRON_SECRET_KEY"] = env.get("PATRON_SECRET_KEY") or SECRET_KEY
    env.pop("REDIS_URL", None)
    if database == "postgres":
        pg = ["-h", "127.0.0.1", "-U", "postgres"]
        if not args.reuse:
            subprocess.run(["dropdb", *pg, "--if-exists", POSTGRES_DATABASE], check=True)
        subprocess.run(["createdb", *pg, POSTGRES_DATABASE], check=False, stderr=subprocess.DEVNULL)
        env["DATABASE_URL"] = POSTGRES_URL
    else:
        env.pop("DATABASE_URL", None)
        if not args.reuse and (Path(data_dir) / "patron.sqlite3").exists():
            raise SystemExit(f"{data_dir} already holds a database; add --reuse to measure it.")
    command = [sys.executable, __file__, "--child", *child_arguments(args)]
    try:
        out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    runs: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    for run in runs:
        run["database"] = database
    return runs


def child_arguments(args: argparse.Namespace) -> list[str]:
    arguments = ["--agents", str(args.agents), "--rounds", str(args.rounds)]
    arguments += ["--mode", args.mode, "--streams", args.streams, "--tickets", str(args.tickets)]
    arguments += ["--app", args.app]
    return arguments + (["--reuse"] if args.reuse else [])


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


HEADER = (
    "| database | tickets | mode | stream | agents | rounds | reach all p50 ms "
    "| reach all p95 ms | reach all max ms | median conn. p50 ms | median conn. p95 ms "
    "| missed | p95 < 1 s | server CPU s per round | server RSS MB, none → N streams "
    "| load avg at start | measured (UTC) |"
)
ROW = re.compile(
    r"^\| (sqlite|postgres) \| ([\d,]+) \| (poll|redis) \| (counts|plain) \| (\d+) \|.*$", re.M
)


def row(run: dict[str, Any]) -> str:
    all_s, median_s = run["all_s"], run["median_s"]
    key = (
        f"| {run['database']} | {run['tickets']:,} | {run['mode']} | {run['streams']} "
        f"| {run['agents']} |"
    )
    if not all_s:
        return key + " 0 | no round completed |"
    p95 = percentile(all_s, 0.95)
    met = "yes" if p95 < TARGET_SECONDS and not run["missed"] else "**no**"
    ratio = run["rss_streams_mb"] / run["rss_idle_mb"]
    return (
        f"{key} {len(all_s)} | {ms(percentile(all_s, 0.5))} | {ms(p95)} | {ms(max(all_s))} "
        f"| {ms(percentile(median_s, 0.5))} | {ms(percentile(median_s, 0.95))} "
        f"| {run['missed']} | {met} | {run['server_cpu_s'] / len(all_s):.2f} "
        f"| {run['rss_idle_mb']:.0f} → {run['rss_streams_mb']:.0f} ({ratio:.2f}x) "
        f"| {run['load']} | {run['measured']} |"
    )


def row_key(line: str) -> tuple[str, ...]:
    match = ROW.match(line)
    assert match is not None, line
    return match.groups()


def command_line(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python benchmarks/sse_fanout.py --database {args.database} "
        f"--agents {args.agents} --rounds {args.rounds} --mode {args.mode} "
        f"--streams {args.streams} --tickets {args.tickets}"
    )


ORDER = {"sqlite": 0, "postgres": 1, "poll": 0, "redis": 1, "counts": 0, "plain": 1}


def sort_key(line: str) -> tuple[int, ...]:
    """Tickets, then database, mode and stream in the order they are run, then agents."""
    database, tickets, mode, streams, agents = row_key(line)
    return (
        int(tickets.replace(",", "")),
        ORDER[database],
        ORDER[mode],
        ORDER[streams],
        int(agents),
    )


def existing_rows(path: Path) -> list[str]:
    """The rows of the current section, so a run for one database or size keeps the others."""
    if not path.exists():
        return []
    pattern = rf"^## {re.escape(SECTION)}\n(.*?)(?=^## |\Z)"
    match = re.search(pattern, path.read_text(), re.S | re.M)
    return [m.group(0) for m in ROW.finditer(match.group(1))] if match else []


def report(runs: list[dict[str, Any]], command: str, kept: list[str]) -> str:
    new = [row(run) for run in runs]
    replaced = {row_key(line) for line in new}
    rows = [line for line in kept if row_key(line) not in replaced] + new
    rows.sort(key=sort_key)
    lines = [
        f"Command: `{command}`  ",
        machine_description(),
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *rows,
        "",
        "Each database is fresh and seeded by `seed.py`'s seeder (SQLite in a temporary data "
        f"directory, PostgreSQL in `{POSTGRES_DATABASE}`, then `ANALYZE`d); the agents are "
        "created with `people.services.create_agent`, each with its own logged-in session "
        "(`Client.force_login`, the cookie sent by the benchmark). Per mode and stream kind a "
        "fresh `uvicorn patron.asgi:application` process (one worker, as `patron serve` runs "
        "it) serves that database; the benchmark opens one SSE connection per agent with "
        "asyncio streams (*counts*: `GET /live/stream?counts=1`, as an inbox page asks; "
        "*plain*: without `counts=1`) and waits until "
        "each has its first frames (a stream the server ends after its 300 s is reopened with "
        "`Last-Event-ID`, as a browser does). A round: after a random pause of "
        f"{GAP_SECONDS[0]} to {GAP_SECONDS[1]} s, `tickets.services.reply` (a public reply by "
        "one of the agents on a random open or pending ticket) runs in the benchmark process; "
        "t0 is taken when it returns, after the commit; the round ends when every connection "
        "has received the `ticket` frame whose JSON `id` is the reply's `message_added` event "
        f"(or after {ROUND_TIMEOUT_SECONDS:.0f} s: *missed* counts connection-rounds without "
        "it). *Reach all*: time until the last of the N connections has it; *median conn.*: "
        "until the median connection has it; nearest-rank percentiles over the rounds. *poll*: "
        "the embedded mode (the hub polls `live.signature()` every 0.5 s); *redis*: server and "
        f"benchmark with `REDIS_URL={REDIS_URL}`, so `wake.announce` publishes after the "
        "commit. Server CPU: the uvicorn process's user + system time over the rounds, divided "
        "by the rounds. RSS: the server's VmRSS after start-up and a `/health` request, "
        "against after the last round with the N streams open. The default seed is 10,000 "
        "tickets: seeding 100,000 took 248 s here under this load, too long for a run of all "
        "eight combinations; rows at 100,000 tickets come from runs with `--tickets 100000 "
        "--data-dir DIR --reuse` (seeded once) and fewer rounds.",
        "",
        "Caveats: the clients and the replying thread run in one process on this 2-core "
        "machine, with the server, the database and other engineers' test runs (see the load "
        "column: above 2 means queued CPU work, so the figures are pessimistic and noisy). "
        "Frames are timestamped when the client's event loop reads them. The task backend is "
        "`db` with no worker running: the reply's consumers (notifications, search index) do "
        "not run, so no `bell` change follows a reply. In redis mode t0 follows the publish "
        "(`reply` returns after its on-commit hooks; a local Redis round trip). The default "
        "run took 629 s (load 3 to 8); an earlier one under load 7 to 11 took 868 s, most of "
        "it in the rounds with counts, whose replies take seconds to reach everyone. "
        "`inbox.view_counts` was being rewritten in the working tree by another change during "
        "this work; the rows shown were measured with its version of 13:34 UTC (one aggregate "
        "over the tickets some built-in view selects), and the counts rows depend on it.",
        "",
        FINDINGS,
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--database", default="sqlite,postgres", help="sqlite, postgres or both, comma-separated"
    )
    parser.add_argument("--agents", type=int, default=50, help="concurrent SSE connections")
    parser.add_argument("--rounds", type=int, default=40, help="replies measured per run")
    parser.add_argument("--mode", default="poll,redis", help="poll, redis or both")
    parser.add_argument(
        "--streams", default="counts,plain", help="counts (?counts=1), plain, or both"
    )
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets seeded")
    parser.add_argument(
        "--app", default=APP, help="the ASGI application uvicorn serves (for experiments)"
    )
    parser.add_argument("--data-dir", help="keep the SQLite database here (for --reuse)")
    parser.add_argument("--reuse", action="store_true", help="measure a seeded database again")
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the section from the rows it already holds, measuring nothing",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for value, allowed, name in (
        (args.database, ("sqlite", "postgres"), "--database"),
        (args.mode, ("poll", "redis"), "--mode"),
        (args.streams, ("counts", "plain"), "--streams"),
    ):
        for item in value.split(","):
            if item not in allowed:
                parser.error(f"{name} takes {' or '.join(allowed)}, not {item!r}")
    if args.child:
        sys.stdout.write(json.dumps(measure(args)) + "\n")
        return 0

    path = ROOT / "docs" / "benchmarks.md"
    if args.report_only:
        body = report([], command_line(args), existing_rows(path))
        write_section(path, SECTION, body)
        print(body)
        return 0
    log(f"Load average: {load_average()}")
    runs = []
    started = time.perf_counter()
    for database in args.database.split(","):
        log(f"== {database}")
        runs += run_child(database, args)
    log(f"Load average: {load_average()}; {time.perf_counter() - started:.0f} s in all")
    body = report(runs, command_line(args), existing_rows(path))
    print(body)
    if args.app != APP:
        log("Not written to docs/benchmarks.md: an experimental --app.")
    elif not args.no_report:
        write_section(path, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
