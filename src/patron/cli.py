"""The `patron` command: demo, serve, worker, beat, createadmin, check, mail, and Django's commands.

    patron demo                 migrate, make an admin, load demo data, then serve
    patron serve                web server + one worker + the scheduler, as one supervised command
    patron worker / patron beat background work and schedules (run separately with Celery)
    patron createadmin          an admin who can log in
    patron check                configuration and connectivity, as a table
    patron mail listen|pipe|poll|retry-failed
                                the ways mail comes in (docs/email.md)
    patron manage …             any Django management command

The configuration is read first of all: a bad environment value stops the command with one
sentence naming the variable (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from patron import config
from patron.core import clock

if TYPE_CHECKING:
    from patron.mail.models import Mailbox

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the message and tries again later
DEFAULT_MAIL_PORT = 2525
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEMO_ADMIN = "admin"
GENERATED_PASSWORD_BYTES = 15  # 20 URL-safe characters
CONNECT_TIMEOUT_SECONDS = 3
# How long children get to finish what they are doing (a running task, open requests) before
# they are killed; uvicorn's own grace period is shorter, for long-lived SSE streams.
STOP_GRACE_SECONDS = 30
WEB_GRACEFUL_SHUTDOWN_SECONDS = 5
POLL_SECONDS = 0.2
# While background tasks pile up, one line this often says how many wait (never one per task).
BACKLOG_REPORT_SECONDS = 10
BACKLOG_WORTH_REPORTING = 100

out = Console(soft_wrap=True)


def fail(message: str) -> None:
    """One plain sentence on stderr (no markup: messages quote user input such as `[::1]`)."""
    sys.stderr.write(f"patron: {message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    import django

    # An MTA reads `patron mail pipe`'s exit status: anything but 75 would bounce the mail.
    piping = args_list[:2] == ["mail", "pipe"]
    try:
        config.load()
        django.setup()  # settings.py reads the rest of the variables
    except config.ConfigError as error:
        fail(str(error))
        return EX_TEMPFAIL if piping else EXIT_CONFIG

    if args_list[:1] == ["manage"]:
        return manage(args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.command is None:
        build_parser().print_help()
        return EXIT_CONFIG
    from django.db import OperationalError

    try:
        result: int = args.run(args)
    except KeyboardInterrupt:
        fail("interrupted.")
        return EXIT_INTERRUPTED
    except OperationalError as error:
        fail(f"cannot use the database ({error}); `patron check` shows the configuration.")
        return EX_TEMPFAIL if piping else EXIT_FAILED
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patron",
        description="Patron: one help desk for customers and clients.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="migrate, create an admin, load demo data, serve")
    _add_listen_arguments(demo)
    demo.add_argument("--no-serve", action="store_true", help="stop after loading the data")
    demo.add_argument(
        "--tickets", type=int, default=None, help="how many demo tickets (default 2,000)"
    )
    demo.set_defaults(run=run_demo)

    serve = commands.add_parser("serve", help="run the web server, a worker and the scheduler")
    _add_listen_arguments(serve)
    serve.set_defaults(run=run_serve)

    worker = commands.add_parser("worker", help="run background tasks")
    worker.add_argument("--concurrency", type=int, default=1, help="tasks at once (default 1)")
    worker.add_argument("--queue", default="", help="comma-separated queues (default: all)")
    worker.set_defaults(run=run_worker)

    beat = commands.add_parser("beat", help="enqueue periodic jobs (run exactly one)")
    beat.set_defaults(run=run_beat)

    admin = commands.add_parser("createadmin", help="create an admin who can log in")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="generated and printed when not given")
    admin.set_defaults(run=run_createadmin)

    check = commands.add_parser("check", help="show the configuration and test connections")
    check.set_defaults(run=run_check)

    _add_mail_commands(commands)

    commands.add_parser("manage", help="run a Django management command (patron manage help)")
    return parser


def _add_mail_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mail = commands.add_parser("mail", help="receive mail: listen, pipe, poll, retry-failed")
    mail.set_defaults(run=lambda args: _mail_help(mail))
    actions = mail.add_subparsers(dest="mail_command", metavar="ACTION")

    listen = actions.add_parser("listen", help="an SMTP (or LMTP) server that stores mail")
    listen.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    listen.add_argument(
        "--port",
        type=_listen_port,
        default=DEFAULT_MAIL_PORT,
        help=f"default {DEFAULT_MAIL_PORT}; 0 takes a free one",
    )
    listen.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
    listen.add_argument("--hostname", help="the name in the greeting (default: this machine's)")
    listen.set_defaults(run=run_mail_listen)

    pipe = actions.add_parser("pipe", help="store the one message on standard input (for an MTA)")
    pipe.add_argument(
        "--mailbox", metavar="ADDRESS", help="default: the envelope recipient (RECIPIENT)"
    )
    pipe.set_defaults(run=run_mail_pipe)

    poll = actions.add_parser("poll", help="fetch new mail from the IMAP mailboxes now")
    poll.add_argument("--mailbox", metavar="ADDRESS", help="only this mailbox")
    poll.set_defaults(run=run_mail_poll)

    retry = actions.add_parser("retry-failed", help="process every failed mail again")
    retry.add_argument("--mailbox", metavar="ADDRESS", help="only this mailbox's")
    retry.set_defaults(run=run_mail_retry_failed)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 1 and 65535")
    return port


def _listen_port(value: str) -> int:
    return 0 if value.strip() == "0" else _port(value)


def _add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")


# --- manage, worker, beat ----------------------------------------------------------------------


def manage(rest: Sequence[str]) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["patron manage", *rest])
    return EXIT_OK


def run_worker(args: argparse.Namespace) -> int:
    from django.core.exceptions import ImproperlyConfigured

    from patron.core import runner

    if args.concurrency < 1:
        fail("--concurrency must be at least 1.")
        return EXIT_CONFIG
    try:
        queues = [name for name in args.queue.split(",") if name.strip() not in ("", "*")]
        return runner.run_worker(concurrency=args.concurrency, queues=queues or None)
    except ImproperlyConfigured as error:
        fail(str(error))
        return EXIT_CONFIG


def run_beat(args: argparse.Namespace) -> int:
    from patron.core import runner

    return runner.run_beat()


# --- mail --------------------------------------------------------------------------------------


def _mail_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_CONFIG


def _mailbox(address: str) -> Mailbox | None:
    from patron.mail.models import Mailbox

    found = Mailbox.objects.filter(address__iexact=address.strip()).first()
    if found is None:
        known = ", ".join(Mailbox.objects.values_list("address", flat=True)) or "none yet"
        fail(f"there is no mailbox {address.strip()} (mailboxes: {known}).")
    return found


def run_mail_listen(args: argparse.Namespace) -> int:
    from patron.mail import inbound, listener, services

    protocol: Literal["smtp", "lmtp"] = "lmtp" if args.lmtp else "smtp"
    handler = listener.MailHandler(
        store=inbound.listener_store,
        accepts=inbound.listener_accepts,
        max_bytes=services.max_raw_bytes(),
    )
    shown_host = f"[{args.host}]" if ":" in args.host else args.host

    def ready(port: int) -> None:
        out.print(
            f"Listening for {protocol.upper()} on {shown_host}:{port} "
            f"(messages up to {handler.max_bytes // (1024 * 1024)} MB; Ctrl-C stops it)",
            markup=False,
            highlight=False,
        )

    try:
        listener.serve(
            args.host,
            args.port,
            protocol=protocol,
            handler=handler,
            ready=ready,
            hostname=args.hostname,
        )
    except OSError as error:
        fail(f"cannot listen on {shown_host}:{args.port}: {error.strerror or error}.")
        return EXIT_FAILED
    out.print("Stopped.")
    return EXIT_OK


def run_mail_pipe(args: argparse.Namespace) -> int:
    """Exit 0 stored, 75 try again later (database down, no such mailbox), 65 never (too big,
    empty): the statuses Postfix and Exim act on; one line on stderr says why."""
    import logging

    from patron.mail import inbound, pipe, services

    # Only the one line below goes to stderr, which the MTA quotes in its log or bounce.
    logging.getLogger().setLevel(logging.ERROR)
    try:
        limit = services.max_raw_bytes()
    except Exception as error:
        fail(f"mail pipe: temporary failure, the message was not stored ({error}); retry later")
        return EX_TEMPFAIL
    return pipe.pipe(sys.stdin.buffer, store=inbound.PipeStore(args.mailbox), max_bytes=limit)


def run_mail_poll(args: argparse.Namespace) -> int:
    from patron.mail import inbound
    from patron.mail.models import Mailbox

    if args.mailbox:
        found = _mailbox(args.mailbox)
        if found is None:
            return EXIT_FAILED
        if found.inbound != Mailbox.Inbound.IMAP or not found.imap_host:
            fail(f"{found.address} does not receive its mail by IMAP; nothing to poll.")
            return EXIT_FAILED
        mailboxes = [found]
    else:
        mailboxes = inbound.imap_mailboxes()
        if not mailboxes:
            out.print("No active IMAP mailbox; add one under Settings → Email.")
            return EXIT_OK
    failed = 0
    for mailbox in mailboxes:
        with out.status(f"Polling {mailbox.address}…"):
            summary = inbound.poll_mailbox(mailbox, now=clock.now())
        if summary.ok:
            out.print(str(summary), markup=False, highlight=False)
        else:
            failed += 1
            fail(str(summary))
    return EXIT_FAILED if failed else EXIT_OK


def run_mail_retry_failed(args: argparse.Namespace) -> int:
    from patron.mail import inbound

    mailboxes = None
    if args.mailbox:
        found = _mailbox(args.mailbox)
        if found is None:
            return EXIT_FAILED
        mailboxes = [found]
    count = inbound.retry_failed(mailboxes)
    out.print(f"Queued {count} failed mail{'' if count == 1 else 's'} for processing again.")
    return EXIT_OK


# --- createadmin and demo ----------------------------------------------------------------------


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def run_createadmin(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from patron.core.errors import InvalidInput
    from patron.people import services as people

    if get_user_model().objects.filter(username=args.username).exists():
        fail(f"a user called {args.username!r} already exists.")
        return EXIT_FAILED
    try:
        email = people.normalize_email(args.email)
    except InvalidInput as error:
        fail(str(error))
        return EXIT_FAILED
    password = args.password or generate_password()
    if args.password:
        try:
            validate_password(args.password)
        except ValidationError as error:
            fail(" ".join(error.messages))
            return EXIT_FAILED
    people.create_agent(username=args.username, email=email, password=password, role="admin")
    out.print(f"Created the admin [bold]{args.username}[/bold] ({email}).")
    if not args.password:
        out.print(f"Password: {password}", markup=False, highlight=False)
        out.print("It is shown only this once; keep it somewhere safe.")
    return EXIT_OK


def unapplied_migrations() -> int:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def migrate() -> None:
    """Apply any migrations not yet applied, saying so only when there are some."""
    from django.core.management import call_command

    pending = unapplied_migrations()
    if pending:
        with out.status(f"Applying {pending} database migrations…"):
            call_command("migrate", interactive=False, verbosity=0)
        out.print(f"Applied {pending} database migrations.")


def ensure_demo_admin() -> None:
    from django.contrib.auth import get_user_model

    from patron.people import services as people

    if get_user_model().objects.filter(username=DEMO_ADMIN).exists():
        out.print(
            f"The admin [bold]{DEMO_ADMIN}[/bold] already exists; its password was shown when it "
            f"was created (set a new one with `patron manage changepassword {DEMO_ADMIN}`)."
        )
        return
    password = generate_password()
    people.create_agent(
        username=DEMO_ADMIN, email="admin@desk.example", password=password, role="admin"
    )
    out.print(f"Created the admin [bold]{DEMO_ADMIN}[/bold].")
    out.print(f"Password: {password}", markup=False, highlight=False)
    out.print("It is shown only this once; keep it somewhere safe.")


def load_demo_data(tickets: int | None = None) -> None:
    from patron.demo import loader
    from patron.demo.plan import DEMO_TICKETS

    total = DEMO_TICKETS if tickets is None else tickets
    if loader.is_loaded():
        out.print("The demo data is already loaded; leaving it as it is.")
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out) as progress:
        bars: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        result = loader.load_demo(tickets=total, progress=report)
    out.print(
        f"Loaded {result.tickets:,} tickets from {result.contacts:,} contacts in "
        f"{result.organizations} organizations ({result.seconds:.0f} s)."
    )


def run_demo(args: argparse.Namespace) -> int:
    if args.tickets is not None and args.tickets < 1:
        fail("--tickets must be at least 1.")
        return EXIT_CONFIG
    migrate()
    ensure_demo_admin()
    load_demo_data(args.tickets)
    if args.no_serve:
        out.print("Start Patron with `patron serve`, then log in as admin.")
        return EXIT_OK
    return run_serve(args)


# --- serve -------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None


PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """What a child runs before exec to get SIGTERM if `patron serve` itself is killed.

    Linux only (prctl); elsewhere children are still stopped on every orderly exit. libc is
    looked up here, in the parent, so the child between fork and exec only makes one call.
    """
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Start children, stop them all on SIGINT/SIGTERM, and stop the rest if one dies."""

    def __init__(
        self, children: list[Child], *, backlog: Callable[[], int | None] = lambda: None
    ) -> None:
        self.children = children
        self.signals = 0
        self.backlog = backlog
        self.reported_backlog = 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:  # a second Ctrl-C: do not wait any longer
            self._kill_all()

    def run(self, *, on_started: Callable[[], None] = lambda: None) -> int:
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            return self._run(on_started)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self, on_started: Callable[[], None]) -> int:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
        before_exec = die_with_parent()
        for child in self.children:
            # Each child in its own session: a terminal's Ctrl-C reaches them once, from here.
            child.process = subprocess.Popen(
                child.command, env=env, start_new_session=True, preexec_fn=before_exec
            )
            out.print(f"Started the {child.name} (pid {child.process.pid}).")
        on_started()
        died: Child | None = None
        next_report = time.monotonic() + BACKLOG_REPORT_SECONDS
        while self.signals == 0 and died is None:
            died = next((c for c in self.children if _exited(c)), None)
            if died is None:
                time.sleep(POLL_SECONDS)
            if time.monotonic() >= next_report:
                self._report_backlog()
                next_report = time.monotonic() + BACKLOG_REPORT_SECONDS
        if died is not None:
            code = died.process.returncode if died.process else None
            fail(f"the {died.name} stopped unexpectedly (exit status {code}); stopping the rest.")
        else:
            out.print("Stopping…")
        self._stop_all()
        if died is not None:
            return EXIT_FAILED
        out.print("Stopped.")
        return EXIT_OK

    def _report_backlog(self) -> None:
        """One progress line while a backlog drains, and one when it is gone."""
        waiting = self.backlog()
        if waiting is None:
            return
        if waiting >= BACKLOG_WORTH_REPORTING:
            change = ""
            if self.reported_backlog:
                per_second = (self.reported_backlog - waiting) / BACKLOG_REPORT_SECONDS
                change = f", {per_second:,.0f} a second" if per_second > 0 else ""
            out.print(f"Background tasks waiting: {waiting:,}{change}", highlight=False)
            self.reported_backlog = waiting
        elif self.reported_backlog:
            out.print("Background tasks have caught up.")
            self.reported_backlog = 0

    def _stop_all(self) -> None:
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                fail(f"the {child.name} did not stop within {STOP_GRACE_SECONDS} s; killing it.")
                child.process.kill()
                child.process.wait()

    def _kill_all(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.kill()


def _exited(child: Child) -> bool:
    return child.process is not None and child.process.poll() is not None


def web_command(host: str, port: int, *, access_log: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "patron.asgi:application",
        "--host", host, "--port", str(port),
        "--lifespan", "off",
        "--timeout-graceful-shutdown", str(WEB_GRACEFUL_SHUTDOWN_SECONDS),
        "--no-server-header",
        *([] if access_log else ["--no-access-log"]),
    ]  # fmt: skip


def queued_tasks() -> int | None:
    """Tasks waiting in the database queue (None on other backends, which have their own)."""
    from django.conf import settings
    from django_tasks_db.models import DBTaskResult

    if settings.PATRON_TASK_BACKEND != "db":
        return None
    return DBTaskResult.objects.ready().count()


def startup_summary() -> list[str]:
    """What a person starting Patron should know, in a few lines."""
    from django.conf import settings

    from patron.mail.models import Mailbox

    loaded: config.Config = settings.CONFIG
    engine, name = describe_database(loaded.database)
    lines = [
        f"Database: {engine} ({name}); background tasks: {loaded.task_backend}; "
        f"log level {settings.PATRON_LOG_LEVEL}"
    ]
    if not Mailbox.objects.filter(active=True).exists():
        lines.append(
            "No active mailbox: replies are not sent by email until one is added "
            "(Settings → Email)."
        )
    return lines


def run_serve(args: argparse.Namespace) -> int:
    from django.conf import settings

    migrate()
    # WhiteNoise serves from the finders too, but warns at start-up when STATIC_ROOT is missing.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    backend = settings.PATRON_TASK_BACKEND
    children = [
        Child(
            "web server", web_command(args.host, args.port, access_log=settings.PATRON_ACCESS_LOG)
        )
    ]
    if backend == "db":
        children.append(Child("worker", [sys.executable, "-m", "patron.cli", "worker"]))
    if backend in ("db", "immediate"):
        children.append(Child("scheduler", [sys.executable, "-m", "patron.cli", "beat"]))
    shown_host = f"[{args.host}]" if ":" in args.host else args.host

    def started() -> None:
        for line in startup_summary():
            out.print(line, markup=False, highlight=False)
        out.print(f"Patron is at http://{shown_host}:{args.port}/  (Ctrl-C stops it)")
        if backend == "celery":
            out.print(
                "Background work runs on Celery: start `patron worker` (as many as you need) "
                "and exactly one `patron beat` separately."
            )
        elif backend == "immediate":
            out.print("Tasks run inside the web server (PATRON_TASK_BACKEND=immediate).")

    return Supervisor(children, backlog=queued_tasks).run(on_started=started)


# --- check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str
    required: bool = True

    @property
    def label(self) -> str:
        if self.ok:
            return "[green]ok[/green]"
        return "[red]failed[/red]" if self.required else "[yellow]warning[/yellow]"


def describe_database(database: dict[str, object]) -> tuple[str, str]:
    engine = str(database["ENGINE"]).rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return "SQLite", str(database["NAME"])
    user = f"{database.get('USER')}@" if database.get("USER") else ""
    return "PostgreSQL", f"{user}{database['HOST']}:{database['PORT']}/{database['NAME']}"


def probe_database() -> list[Probe]:
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return [Probe("Database", False, f"cannot connect: {error}".strip())]
    probes = [Probe("Database", True, f"{connection.vendor} answers SELECT 1")]
    pending = unapplied_migrations()
    if pending:
        probes.append(
            Probe(
                "Migrations",
                False,
                f"{pending} not applied; `patron serve` applies them, or `patron manage migrate`",
                required=False,
            )
        )
    else:
        probes.append(Probe("Migrations", True, "all applied"))
    return probes


def probe_broker(url: str) -> Probe:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
            connection.connect()
    except Exception as error:  # kombu raises the transport's own errors
        return Probe("Celery broker", False, f"cannot connect: {error}")
    return Probe("Celery broker", True, "connected")


def probe_redis(url: str) -> Probe:
    import redis

    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        client.ping()
    except (redis.RedisError, OSError) as error:
        return Probe("Redis", False, f"cannot connect: {error}")
    return Probe("Redis", True, "answers PING")


def probe_smtp(host: str, port: int, *, use_ssl: bool) -> Probe:
    smtp_class = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
    try:
        with smtp_class(host, port, timeout=CONNECT_TIMEOUT_SECONDS) as smtp:
            smtp.noop()
    except (OSError, smtplib.SMTPException) as error:
        return Probe(
            "SMTP server",
            False,
            f"cannot connect to {host}:{port} ({error}); outgoing mail will wait and retry",
            required=False,
        )
    return Probe("SMTP server", True, f"{host}:{port} answers")


def run_check(args: argparse.Namespace) -> int:
    from django.conf import settings

    loaded: config.Config = settings.CONFIG
    email = loaded.email
    host, port = str(email["EMAIL_HOST"]), int(str(email["EMAIL_PORT"]))
    security = ""
    if email["EMAIL_USE_SSL"] or email["EMAIL_USE_TLS"]:
        security = " (SSL)" if email["EMAIL_USE_SSL"] else " (STARTTLS)"
    engine, name = describe_database(loaded.database)
    configuration = Table(title="Configuration", title_justify="left")
    configuration.add_column("Setting")
    configuration.add_column("Value", overflow="fold")
    for setting, value in (
        ("Data directory", str(loaded.data_dir)),
        ("Database", f"{engine}: {name}"),
        ("Task backend", loaded.task_backend),
        ("Time zone", loaded.time_zone),
        ("Email (SMTP)", f"{host}:{port}{security}"),
        ("Site URL", loaded.site_url),
    ):
        configuration.add_row(setting, Text(value))
    out.print(configuration)

    probes = probe_database()
    if loaded.task_backend == "celery":
        probes.append(probe_broker(loaded.celery_broker_url))
    if loaded.redis_url:
        probes.append(probe_redis(loaded.redis_url))
    probes.append(probe_smtp(host, port, use_ssl=bool(email["EMAIL_USE_SSL"])))
    connectivity = Table(title="Connectivity", title_justify="left")
    connectivity.add_column("Service")
    connectivity.add_column("Status")
    connectivity.add_column("Detail", overflow="fold")
    for probe in probes:
        connectivity.add_row(probe.name, probe.label, Text(probe.detail))
    out.print(connectivity)
    failed = [probe.name for probe in probes if probe.required and not probe.ok]
    if failed:
        fail(f"{', '.join(failed)} failed; see the table above.")
        return EXIT_FAILED
    out.print("Everything Patron needs answers.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
