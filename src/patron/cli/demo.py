"""`patron demo`: migrate, make the demo admin, load the demo data, then serve."""

from __future__ import annotations

import argparse

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from patron.cli.admin import generate_password
from patron.cli.common import EXIT_CONFIG, EXIT_OK, fail, migrate, out
from patron.cli.serve import run_serve

DEMO_ADMIN = "admin"


def ensure_demo_admin() -> None:
    from django.contrib.auth import get_user_model

    from patron.people import agents

    if get_user_model().objects.filter(username=DEMO_ADMIN).exists():
        out.print(
            f"The admin [bold]{DEMO_ADMIN}[/bold] already exists; its password was shown when it "
            f"was created (set a new one with `patron manage changepassword {DEMO_ADMIN}`)."
        )
        return
    password = generate_password()
    agents.create_agent(
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
