"""What every `patron` command shares: exit statuses, defaults, the console and `fail`, and
applying migrations (used by `demo`, `serve` and `check`)."""

from __future__ import annotations

import sys

from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the message and tries again later
DEFAULT_MAIL_PORT = 2525
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

out = Console(soft_wrap=True)


def fail(message: str) -> None:
    """One plain sentence on stderr (no markup: messages quote user input such as `[::1]`)."""
    sys.stderr.write(f"patron: {message}\n")
    sys.stderr.flush()


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
