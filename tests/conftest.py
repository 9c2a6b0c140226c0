"""Test set-up shared by the whole suite.

The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL points there. With CI=true
a server a test needs (PostgreSQL, RabbitMQ, Redis, Chromium) that is missing fails the run.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from patron.core import clock

# The suite's environment defaults (data directory, task backend, secret key) are set in
# tests/environment.py, a plugin loaded before pytest-django reads the settings.

IN_CI = os.environ.get("CI", "").lower() == "true"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def require_server(host: str, port: int, what: str) -> None:
    """Skip locally when a server is missing; in CI a missing server is a failure."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError:
        missing(f"{what} is not reachable on {host}:{port}")


def require_chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        missing("Debian's chromium is not on the PATH")
    assert path is not None
    return path


def missing(message: str) -> None:
    """A test needs something this machine lacks: skip it locally, fail it in CI (CI=true)."""
    if not IN_CI:
        pytest.skip(message)
    pytest.fail(message + " (CI=true: a missing server fails the run)")


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(autouse=True)
def _clock_at_now(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts at NOW, the time its fixtures are made at, so what the views, tasks and
    consumers read (`patron.core.clock`) agrees with them on any date the suite runs. Browser
    tests, and tests marked `real_clock`, talk to server or worker processes on the real clock, so
    they make their fixtures at the real time instead (`tests/browser/conftest.py`)."""
    if any(request.node.get_closest_marker(name) for name in ("browser", "real_clock")):
        yield
        return
    with clock.travel_to(NOW):
        yield


@pytest.fixture
def run_on_commit(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Any]:
    """Run after-commit callbacks (task enqueues) as if the test's transaction had committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
