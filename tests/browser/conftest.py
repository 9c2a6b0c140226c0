"""Browser tests: Debian's Chromium, driven by pytest-playwright, against a real uvicorn process.

The server is a subprocess, not pytest-django's threaded live_server (whose thread clashes with
Playwright's event loop); it reads and writes the test database, so tests use `transactional_db`:
what a test creates is committed and the server sees it, and tables are flushed after each test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, User
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import require_chromium

BROWSER_DIR = Path(__file__).parent
SERVER_START_TIMEOUT_SECONDS = 60
SERVER_STOP_TIMEOUT_SECONDS = 10
HEALTH_POLL_SECONDS = 0.1
# Logging in hashes a password (PBKDF2, 1.5M rounds) in the server; on a busy two-core CI machine a
# page can take longer than Playwright's default 5 s for an assertion to come true.
EXPECT_TIMEOUT_MS = 15_000
SERVER_LOG_TAIL = 6000  # characters of the server's output shown under a failed test
SERVER_LOG = pytest.StashKey[Path]()
PASSWORD = "correct horse battery"  # what tests/factories.py agent() sets
CHROMIUM_ARGS = [
    "--no-sandbox",  # running as root in CI containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the browser tests and run them after all others: Playwright's event loop stays on the
    main thread until the session ends, and Django refuses ORM calls while one is running."""
    browser_tests = [item for item in items if BROWSER_DIR in item.path.parents]
    for item in browser_tests:
        item.add_marker(pytest.mark.browser)
    others = [item for item in items if BROWSER_DIR not in item.path.parents]
    items[:] = others + browser_tests


@pytest.fixture
def now() -> datetime:
    """The server process reads the real clock, so the fixtures are made at the real time."""
    return timezone.now().replace(microsecond=0)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": require_chromium(),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL naming the same database as Django's connection settings."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        path = Path(name)
        if not path.is_absolute() or name.startswith("file:") or ":memory:" in name:
            raise RuntimeError(
                f"the SQLite test database {name!r} is not a file another process can open"
            )
        return f"sqlite:///{path}"  # path starts with "/": sqlite:////abs/path
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or "5432"
        options = urlencode(settings_dict.get("OPTIONS") or {})
        return f"postgres://{credentials}{host}:{port}/{quote(name)}" + (
            f"?{options}" if options else ""
        )
    raise RuntimeError(f"browser tests do not know how to share a {engine} database")


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
    database: str, *, data_dir: Path, secret_key: str, log_path: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `uvicorn patron.asgi:application` (on `port`, or a free one) and wait until it
    answers; return the process and its base URL. Its output goes to log_path (appended)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=database,
        PATRON_DATA_DIR=str(data_dir),
        PATRON_SECRET_KEY=secret_key,
        PATRON_TASK_BACKEND="immediate",
        PATRON_ALLOWED_HOSTS="127.0.0.1,localhost",
        PATRON_SITE_URL=url,
        PATRON_DEBUG="false",
        PATRON_SLA_BADGE_REFRESH_SECONDS="1",  # badges count down in seconds, not half-minutes
    )
    env.pop("REDIS_URL", None)  # the embedded mode: streams poll the database
    command = [sys.executable, "-m", "uvicorn", "patron.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--timeout-graceful-shutdown", "2"]  # live streams never end by themselves
    with log_path.open("a") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while not _healthy(url):
        if server.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(
                f"uvicorn did not answer 200 on {url}/health "
                f"(exit code {server.poll()}); its output:\n{log_path.read_text()}"
            )
        time.sleep(HEALTH_POLL_SECONDS)
    return server, url


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@contextmanager
def run_server(database: str, *, data_dir: Path, secret_key: str, log_path: Path) -> Iterator[str]:
    """A uvicorn server for the duration of the block; yields its base URL."""
    server, url = start_server(
        database, data_dir=data_dir, secret_key=secret_key, log_path=log_path
    )
    try:
        yield url
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def live_url(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[str]:
    """One server for the session, started after the test database exists and stopped before it
    is destroyed. It caches nothing, so flushing tables between tests is enough."""
    from django.db import connection

    from patron.settings import CONFIG

    # The settings the test process really runs with (pytest-django reads them before any
    # conftest.py can set environment variables).
    database = database_url(connection.settings_dict)
    log_path = tmp_path_factory.mktemp("uvicorn") / "server.log"
    pytestconfig.stash[SERVER_LOG] = log_path
    with run_server(
        database, data_dir=CONFIG.data_dir, secret_key=CONFIG.secret_key, log_path=log_path
    ) as url:
        yield url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed browser test shows the end of the server's output (a 500's traceback)."""
    report = yield
    log_path = item.config.stash.get(SERVER_LOG, None)
    if report.failed and log_path is not None and BROWSER_DIR in item.path.parents:
        report.sections.append(("uvicorn output (end)", log_path.read_text()[-SERVER_LOG_TAIL:]))
    return report


@pytest.fixture(scope="session")
def base_url(live_url: str) -> str:
    """Playwright resolves `page.goto("/tickets/")` against the server."""
    return live_url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(autouse=True)
def _committed_data(
    transactional_db: None, page: Page, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Commit what tests create so the server sees it. Playwright's sync API keeps an event loop
    running on this thread, which makes Django refuse ORM calls from the test body; they are
    plain synchronous calls here, so lift that guard for browser tests only.

    Afterwards the page is left for about:blank before the tables are flushed: a heartbeat or
    a live-stream read still arriving from it would take row locks that deadlock PostgreSQL's
    TRUNCATE (seen in CI)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    page.goto("about:blank")
    time.sleep(0.2)  # let a request the page sent just before finish on the server


@pytest.fixture
def log_in_with_form(page: Page) -> Callable[[AbstractBaseUser], None]:
    """Log in through the login form, as a person would; the user needs factories' password."""

    def _log_in(user: AbstractBaseUser) -> None:
        page.goto("/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Tickets", exact=True)).to_be_visible()

    return _log_in


@pytest.fixture
def log_in(page: Page, live_url: str) -> Callable[[AbstractBaseUser], None]:
    """Give the browser a session cookie for tests whose subject is not logging in. This skips
    the form's password hashing (a second or more each, twice per test on a busy machine), so
    such tests can create their agents with `password=None`."""

    def _log_in(user: AbstractBaseUser) -> None:
        assert isinstance(user, User)
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": session.key, "value": session.value, "url": live_url, "httpOnly": True}]
        )

    return _log_in
