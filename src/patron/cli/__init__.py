"""The `patron` command: demo, serve, worker, beat, createadmin, check, mail, and Django's commands.

    patron demo                 migrate, make an admin, load demo data, then serve
    patron serve                web server + one worker + the scheduler, as one supervised command
    patron worker / patron beat background work and schedules (run separately with Celery)
    patron createadmin          an admin who can log in
    patron check                configuration and connectivity, as a table
    patron mail listen|pipe|poll|retry-failed
                                the ways mail comes in (docs/email.md)
    patron sla replay FILE.json the SLA clocks of one documented timeline (docs/sla.md)
    patron sla simulate …       what a policy would have made of a period's tickets
    patron manage …             any Django management command

The configuration is read first of all: a bad environment value stops the command with one
sentence naming the variable (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from patron import config
from patron.cli.admin import run_createadmin
from patron.cli.check import run_check
from patron.cli.common import (
    DEFAULT_HOST,
    DEFAULT_MAIL_PORT,
    DEFAULT_PORT,
    EX_TEMPFAIL,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    fail,
)
from patron.cli.demo import run_demo
from patron.cli.mail import (
    run_mail_listen,
    run_mail_pipe,
    run_mail_poll,
    run_mail_retry_failed,
)
from patron.cli.serve import run_beat, run_serve, run_worker
from patron.cli.sla import add_simulate_parser, run_sla_replay

__all__ = ["build_parser", "main", "manage"]


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
    _add_sla_commands(commands)

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


def _add_sla_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sla = commands.add_parser("sla", help="service levels: replay a timeline, simulate a policy")
    sla.set_defaults(run=lambda args: _mail_help(sla))
    actions = sla.add_subparsers(dest="sla_command", metavar="ACTION")

    replay = actions.add_parser("replay", help="print the SLA clocks of one JSON timeline")
    replay.add_argument("file", metavar="FILE.json", help="the replay document (- for stdin)")
    replay.set_defaults(run=run_sla_replay)
    add_simulate_parser(actions)


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


# --- manage ------------------------------------------------------------------------------------


def manage(rest: Sequence[str]) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["patron manage", *rest])
    return EXIT_OK


def _mail_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_CONFIG
