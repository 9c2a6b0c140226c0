"""`patron manage reindex`: build the search index from what is in the database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from patron.search.services import reindex_all


class Command(BaseCommand):
    help = "Rebuild the search index of tickets, contacts and organizations."

    def handle(self, *args: Any, **options: Any) -> None:
        tasks: dict[str, TaskID] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            disable=options["verbosity"] == 0,
        ) as progress:

            def advance(kind: str, done: int, total: int) -> None:
                if kind not in tasks:
                    tasks[kind] = progress.add_task(f"Indexing {kind}s", total=total)
                progress.update(tasks[kind], completed=done)

            counts = reindex_all(progress=advance)
        summary = ", ".join(f"{count} {kind}s" for kind, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Indexed {summary}."))
