"""`patron sla replay FILE.json`: evaluate one documented SLA timeline and print its clocks
(docs/sla.md); it reads no database: the same pure engine the live clocks use. `patron sla
simulate`: what a stored or draft policy would have made of a period's tickets."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from patron.cli.common import EXIT_CONFIG, EXIT_OK, fail

if TYPE_CHECKING:
    from patron.sla.simulate import Simulation

# A bad replay file is the caller's mistake, like a bad environment value: status 2.
EXIT_BAD_INPUT = EXIT_CONFIG


def run_sla_replay(args: argparse.Namespace) -> int:
    from patron.sla.replay import run

    path: str = args.file
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        fail(f"sla replay: cannot read {path}: {getattr(error, 'strerror', None) or error}.")
        return EXIT_BAD_INPUT
    try:
        output = run(text)
    except ValueError as error:  # FieldError and the engine's own checks name the field
        fail(f"sla replay: {path}: {error}")
        return EXIT_BAD_INPUT
    sys.stdout.write(output + "\n")
    return EXIT_OK


# --- patron sla simulate ---------------------------------------------------------------------


def add_simulate_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = actions.add_parser(
        "simulate", help="what a policy would have made of a period's tickets, per segment"
    )
    chosen = simulate.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--policy", metavar="NAME", help="a stored policy, by name")
    chosen.add_argument(
        "--draft", metavar="FILE", help="a draft policy: JSON with policy, pause_rules, calendar"
    )
    simulate.add_argument(
        "--from", dest="start", type=_date, required=True, metavar="DATE",
        help="the first day of the period (YYYY-MM-DD, the desk's time zone)",
    )  # fmt: skip
    simulate.add_argument(
        "--to", dest="end", type=_date, required=True, metavar="DATE",
        help="the last day of the period, included",
    )  # fmt: skip
    simulate.add_argument("--segment", metavar="SLUG", help="only this segment's tickets")
    simulate.add_argument("--json", action="store_true", help="print JSON instead of tables")
    simulate.set_defaults(run=run_sla_simulate)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-01") from None


def run_sla_simulate(args: argparse.Namespace) -> int:
    from django.conf import settings

    from patron.core import clock
    from patron.core.errors import InvalidInput
    from patron.sla import simulate
    from patron.sla.calendar import FieldError

    zone = ZoneInfo(settings.TIME_ZONE)
    start = datetime.combine(args.start, time(0), tzinfo=zone)
    end = datetime.combine(args.end + timedelta(days=1), time(0), tzinfo=zone)
    try:
        if args.policy is not None:
            policy = simulate.stored_policy(args.policy)
        else:
            policy = simulate.draft_policy(_read(args.draft))
        with _progress() as progress:
            result = simulate.simulate(
                policy, start=start, end=end, now=clock.now(), segment=args.segment,
                progress=progress,
            )  # fmt: skip
    except OSError as error:
        fail(f"sla simulate: cannot read {args.draft}: {error.strerror or error}.")
        return EXIT_BAD_INPUT
    except FieldError as error:
        fail(f"sla simulate: {args.draft}: {error}")
        return EXIT_BAD_INPUT
    except (InvalidInput, UnicodeDecodeError) as error:
        fail(f"sla simulate: {error}")
        return EXIT_BAD_INPUT
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(simulation_text(result, zone))
    return EXIT_OK


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal's stderr; nothing when stderr is a file or a pipe."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        job = bar.add_task("Replaying tickets", total=None)
        yield lambda done, total: bar.update(job, completed=done, total=total)


def simulation_text(result: Simulation, zone: ZoneInfo) -> str:
    """The simulation as tables a person reads: one per segment, then the breaches."""

    def local(instant: datetime) -> str:
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    last_day = (result.end.astimezone(zone) - timedelta(days=1)).date()
    lines = [
        f"Policy {result.policy!r} over tickets created {result.start.astimezone(zone):%Y-%m-%d}"
        f" to {last_day:%Y-%m-%d}, evaluated at {local(result.evaluated_at)} ({zone.key})",
    ]
    header = (
        f"  {'metric':<16} {'measured':>8} {'achieved':>8} {'breached':>8} {'open':>6}  compliance"
    )
    for segment in result.segments:
        lines += ["", f"{segment.name}: {segment.tickets} tickets"]
        if not segment.tallies:
            lines.append("  no clock had a target")
            continue
        lines.append(header)
        for tally in segment.metrics():
            shown = "-" if tally.compliance is None else f"{tally.compliance:.1f} %"
            lines.append(
                f"  {tally.metric:<16} {tally.measured:>8} {tally.achieved:>8}"
                f" {tally.breached:>8} {tally.open:>6}  {shown}"
            )
    lines += ["", f"Breaches: {len(result.breaches)}"]
    for breach in result.breaches:
        unit = "business min" if breach.measure == "business" else "min"
        lines.append(
            f"  #{breach.ticket_number} {breach.metric} {breach.cycle}: due {local(breach.due_at)},"
            f" over by {_minutes(breach.over_minutes)} {unit}"
        )
    return "\n".join(lines) + "\n"


def _minutes(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
