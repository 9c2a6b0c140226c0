"""The `patron` command: bad configuration, check, createadmin, demo and serve end to end.

Commands that must start from a clean process (a bad environment, `demo`, `serve`) run as
subprocesses with their own data directory and SQLite database; `check` and `createadmin` run
in-process against the test database, so they are tested on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from patron.cli import main
from patron.core import clock
from patron.people.models import Role
from tests.mail.servers import message

SUBPROCESS_TIMEOUT = 180
SERVE_START_TIMEOUT = 90
SERVE_STOP_TIMEOUT = 45


def clean_env(data_dir: Path, **values: str) -> dict[str, str]:
    """The test process's environment with a fresh data directory and SQLite database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PATRON_", "DATABASE_URL", "CELERY_", "REDIS_"))
        and key != "DJANGO_SETTINGS_MODULE"
    }
    env["PATRON_DATA_DIR"] = str(data_dir)
    env.update(values)
    return env


def patron(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "postgres://"),
        ("PATRON_TASK_BACKEND", "rabbit"),
        ("PATRON_TIME_ZONE", "Mars/Base"),
        ("PATRON_SECRET_KEY", "too-short"),
        ("PATRON_EMAIL_PORT", "abc"),
        ("PATRON_DEBUG", "maybe"),
        ("CELERY_BROKER_URL", "nonsense"),
        ("PATRON_MAX_ATTACHMENT_MB", "0"),
        ("PATRON_WEB_FORM_IP_LIMIT", "lots"),
    ],
)
def test_it_stops_with_one_sentence_on_a_bad_environment_value(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = patron("check", env=clean_env(tmp_path, **{variable: value}))

    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.django_db
def test_it_checks_a_good_configuration_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check"])

    output = capsys.readouterr().out
    assert code == 0
    assert "Database" in output
    assert "Task backend" in output


def test_it_fails_the_check_when_the_celery_broker_does_not_answer(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        PATRON_TASK_BACKEND="celery",
        CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
    )

    result = patron("check", env=env)

    assert result.returncode == 1
    assert "Celery broker" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_it_passes_manage_through_to_django(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["manage", "check"])

    assert code == 0
    assert "no issues" in capsys.readouterr().out


@pytest.mark.django_db
def test_it_creates_an_admin_who_can_log_in(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["createadmin", "--username", "boss", "--email", "boss@desk.example"])

    output = capsys.readouterr().out
    password = re.search(r"^Password: (\S+)$", output, re.M)
    assert code == 0
    assert password is not None
    user = get_user_model().objects.get(username="boss")
    assert user.agent.role == Role.ADMIN
    assert Client().login(username="boss", password=password.group(1))


@pytest.mark.django_db
def test_it_does_not_print_a_password_that_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["createadmin", "--username", "chief", "--email", "chief@desk.example",
         "--password", "a long and unusual passphrase 7"]
    )  # fmt: skip

    assert code == 0
    assert "Password" not in capsys.readouterr().out
    assert Client().login(username="chief", password="a long and unusual passphrase 7")


@pytest.mark.django_db
def test_it_refuses_to_create_an_admin_whose_username_is_taken(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["createadmin", "--username", "boss", "--email", "boss@desk.example"])

    code = main(["createadmin", "--username", "boss", "--email", "other@desk.example"])

    assert code == 1
    assert "already exists" in capsys.readouterr().err


def test_it_runs_the_demo_end_to_end_and_only_once(tmp_path: Path) -> None:
    env = clean_env(tmp_path, PATRON_TASK_BACKEND="db")

    first = patron("demo", "--no-serve", "--tickets", "30", env=env)
    second = patron("demo", "--no-serve", "--tickets", "30", env=env)

    assert first.returncode == 0, first.stderr
    assert re.search(r"^Password: \S+$", first.stdout, re.M)
    assert "Loaded 30 tickets" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "Password" not in second.stdout
    assert "already loaded" in second.stdout
    with sqlite3.connect(tmp_path / "patron.sqlite3") as db:
        (tickets,) = db.execute("SELECT count(*) FROM tickets_ticket").fetchone()
        (events,) = db.execute("SELECT count(*) FROM tickets_ticketevent").fetchone()
    assert tickets == 30
    assert events > tickets


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_health(url: str, process: subprocess.Popen[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return -1
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    return 0


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_serves_until_interrupted_and_stops_every_child(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "patron.cli", "serve", "--port", str(port)],
        env=clean_env(tmp_path, PATRON_TASK_BACKEND="db"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        status = wait_for_health(f"http://127.0.0.1:{port}/health", process, SERVE_START_TIMEOUT)
        assert status == 200, "".join(lines)

        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=SERVE_STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)

    output = "".join(lines)
    pids = [int(pid) for pid in re.findall(r"^Started the .+ \(pid (\d+)\)\.$", output, re.M)]
    assert code == 0, output
    assert len(pids) == 3, output  # web server, worker, scheduler
    assert f"http://127.0.0.1:{port}/" in output
    assert not [pid for pid in pids if is_running(pid)]


def test_it_stops_everything_and_says_which_child_died(tmp_path: Path) -> None:
    env = clean_env(tmp_path, PATRON_TASK_BACKEND="db")
    with socket.socket() as taken:  # the web server cannot listen on a port already taken
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = patron("serve", "--port", str(port), env=env)

    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", result.stdout)]
    assert result.returncode == 1
    assert "the web server stopped unexpectedly" in result.stderr
    assert len(pids) == 3
    assert not [pid for pid in pids if is_running(pid)]


# --- patron mail (the end-to-end listener and pipe runs are in tests/mail/test_inbound.py) ------


def test_mail_without_an_action_shows_the_actions(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["mail"])

    assert code == 2
    output = capsys.readouterr().out
    for action in ("listen", "pipe", "poll", "retry-failed"):
        assert action in output


def test_mail_listen_refuses_a_port_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mail", "listen", "--port", "smtp"])

    assert exited.value.code == 2
    assert "'smtp' is not a port number" in capsys.readouterr().err


@pytest.mark.django_db
def test_mail_poll_names_the_mailboxes_when_one_is_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from patron.mail.models import Mailbox

    Mailbox.objects.create(address="support@desk.example")

    code = main(["mail", "poll", "--mailbox", "sales@desk.example"])

    assert code == 1
    err = capsys.readouterr().err
    assert "there is no mailbox sales@desk.example (mailboxes: support@desk.example)." in err


@pytest.mark.django_db
def test_mail_poll_refuses_a_mailbox_that_is_not_polled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from patron.mail.models import Mailbox

    Mailbox.objects.create(address="support@desk.example", inbound=Mailbox.Inbound.PIPE)

    code = main(["mail", "poll", "--mailbox", "support@desk.example"])

    assert code == 1
    assert "does not receive its mail by IMAP" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_mail_retry_failed_processes_failed_mail_again(
    capsys: pytest.CaptureFixture[str],
) -> None:

    from patron.mail import services
    from patron.mail.models import InboundMail, Mailbox

    mailbox = Mailbox.objects.create(
        address="support@desk.example", inbound="pipe", allow_unknown_senders=False
    )
    mail = services.receive_raw(
        message(1, to="support@desk.example"),
        mailbox=mailbox,
        source="pipe",
        received_at=clock.now(),
    )
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.FAILED  # an unknown sender
    Mailbox.objects.filter(pk=mailbox.pk).update(allow_unknown_senders=True)

    code = main(["mail", "retry-failed", "--mailbox", "support@desk.example"])

    assert code == 0
    assert "Queued 1 failed mail for processing again." in capsys.readouterr().out
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.PROCESSED, mail.reason
