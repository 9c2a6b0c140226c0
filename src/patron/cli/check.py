"""`patron check`: the configuration and the connections Patron needs, as two tables."""

from __future__ import annotations

import argparse
import smtplib
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

from patron import config
from patron.cli.common import EXIT_FAILED, EXIT_OK, fail, out, unapplied_migrations

CONNECT_TIMEOUT_SECONDS = 3


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
