"""Real background workers for the task-backend tests: subprocesses on the test's own database.

A worker is `patron.core.runner.run_worker` in a child process that reads and writes the same
test database (tests using these fixtures use `transactional_db`, so the child sees committed
rows). Celery workers consume a queue unique to the test, on a real RabbitMQ or Redis.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection
from kombu import Connection

from tests.conftest import require_server

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
REDIS_BROKER_URL = "redis://127.0.0.1:6379/15"
WORKER_STOP_TIMEOUT_SECONDS = 20
POLL_SECONDS = 0.05
# /proc states of a process that runs no more code: stopped, traced, zombie, dead.
STOPPED_STATES = frozenset("TtZX")
DB_BACKEND = "django_tasks_db.DatabaseBackend"
CELERY_BACKEND = "patron.core.celery_backend.CeleryBackend"

# What a child runs: Django set up from the environment, then what `patron worker` or
# `patron beat` runs.
PROGRAMS = {
    "worker": """
import sys
import django
django.setup()
from patron.core.runner import run_worker
sys.exit(run_worker(int(sys.argv[1]), queues=sys.argv[2:] or None))
""",
    "beat": """
import sys
import django
django.setup()
from patron.core.runner import run_beat
sys.exit(run_beat())
""",
}


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL naming the database this test process is connected to."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if not Path(name).is_absolute():
            raise RuntimeError(f"the SQLite test database {name!r} is not a file a worker can open")
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or "5432"
        return f"postgres://{credentials}{host}:{port}/{quote(name)}"
    raise RuntimeError(f"workers cannot share a {engine} database")


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    worker: WorkerProcess | None = None,
) -> None:
    """Poll `condition`; on time-out fail, naming what was awaited and showing the worker's log."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            log = f"; the worker's output:\n{worker.output()}" if worker else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{log}")
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    state: str
    parent: int
    group: int


def processes() -> list[ProcessInfo]:
    """Every process on the machine, read from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        state, parent, group = text.rpartition(")")[2].split()[:3]
        found.append(ProcessInfo(int(stat.parent.name), state, int(parent), int(group)))
    return found


def is_gone(pid: int) -> bool:
    """True once the process has exited (a zombie waiting for its reaper counts as gone)."""
    return all(p.state in "ZX" for p in processes() if p.pid == pid)


class WorkerProcess:
    """One `run_worker` child in its own process group, so a kill takes its pool children too."""

    def __init__(self, *, program: str, env: Mapping[str, str], args: list[str], log_path: Path):
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROGRAMS[program], *args],
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def pause(self) -> None:
        """SIGSTOP the whole process group and wait until none of it can run another instruction."""
        self._signal_group(signal.SIGSTOP)
        wait_until(
            lambda: all(state in STOPPED_STATES for state in self._group_states()),
            timeout=WORKER_STOP_TIMEOUT_SECONDS,
            what="the worker's processes to stop",
        )

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def crash(self) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is acknowledged."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)

    def stop(self) -> int:
        """SIGTERM, as an operator or a supervisor would; return the exit status."""
        self._signal_group(signal.SIGTERM)
        try:
            return self.process.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.crash()
            raise AssertionError(
                f"the worker ignored SIGTERM; its output:\n{self.output()}"
            ) from None

    def _group_states(self) -> list[str]:
        """The scheduler state (R, S, T, Z …) of every process in the worker's group."""
        return [p.state for p in processes() if p.group == self.process.pid]

    def children(self) -> list[int]:
        """The worker's child processes, in its group or not."""
        return [p.pid for p in processes() if p.parent == self.process.pid]

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, signum)

    def close(self) -> None:
        """Kill the worker and any child it started in a session of its own."""
        children = self.children()
        self._signal_group(signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
        self._log.close()


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers (or schedulers) on the test database; all are killed when the test ends."""
    started: list[WorkerProcess] = []

    def start(
        backend: str,
        *,
        queues: tuple[str, ...] = (),
        broker_url: str = RABBITMQ_URL,
        program: str = "worker",
        concurrency: int = 1,
    ) -> WorkerProcess:
        data_dir = tmp_path / f"data-{len(started)}"
        data_dir.mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
        env.update(
            DJANGO_SETTINGS_MODULE="patron.settings",
            DATABASE_URL=database_url(connection.settings_dict),
            PATRON_DATA_DIR=str(data_dir),
            PATRON_SECRET_KEY=os.environ["PATRON_SECRET_KEY"],
            PATRON_TASK_BACKEND=backend,
            PATRON_DEBUG="false",
            CELERY_BROKER_URL=broker_url,
        )
        env.pop("REDIS_URL", None)
        worker = WorkerProcess(
            program=program,
            env=env,
            args=[str(concurrency), *queues] if program == "worker" else [],
            log_path=tmp_path / f"{program}-{len(started)}.log",
        )
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.close()


class CeleryQueue:
    """A broker queue used by one test only, and the TASKS setting that sends to it."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self.prefix = f"patron-test-{uuid.uuid4().hex[:12]}-"
        self.name = f"{self.prefix}default"
        self.tasks_setting = {
            "default": {"BACKEND": CELERY_BACKEND, "OPTIONS": {"queue_prefix": self.prefix}}
        }

    def delete(self) -> None:
        with Connection(self.broker_url, connect_timeout=5) as broker:
            broker.default_channel.queue_delete(self.name)


def _celery_queue(broker_url: str) -> Iterator[CeleryQueue]:
    parts = urlsplit(broker_url)
    require_server(parts.hostname or "127.0.0.1", parts.port or 0, f"{parts.scheme} broker")
    queue = CeleryQueue(broker_url)
    queue.delete()  # nothing stale, whatever ran before
    try:
        yield queue
    finally:
        queue.delete()


@pytest.fixture
def rabbitmq_queue() -> Iterator[CeleryQueue]:
    yield from _celery_queue(RABBITMQ_URL)


@pytest.fixture
def redis_queue() -> Iterator[CeleryQueue]:
    yield from _celery_queue(REDIS_BROKER_URL)
