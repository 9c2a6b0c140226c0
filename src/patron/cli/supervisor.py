"""The process supervisor behind `patron serve`: start the children (web server, worker,
scheduler), stop them all on SIGINT/SIGTERM or when one dies, and report a task backlog.

Beside the embedded scheduler (which polls the IMAP mailboxes every minute) the supervisor also
watches those mailboxes with IMAP IDLE in threads of its own (`patron.mail.idle`), so new mail
arrives within seconds; the poll stays as the safety net."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from patron.cli.common import EXIT_FAILED, EXIT_OK, fail, out
from patron.core.processes import die_with_parent

if TYPE_CHECKING:
    from patron.mail.idle import IdleLoop

# How long children get to finish what they are doing (a running task, open requests) before
# they are killed; uvicorn's own grace period is shorter, for long-lived SSE streams.
STOP_GRACE_SECONDS = 30
POLL_SECONDS = 0.2
# While background tasks pile up, one line this often says how many wait (never one per task).
BACKLOG_REPORT_SECONDS = 10
BACKLOG_WORTH_REPORTING = 100
# The IMAP IDLE loop runs where this child (the embedded scheduler, the poller) runs.
MAIL_IDLE_BESIDE = "scheduler"


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None


class Supervisor:
    """Start children, stop them all on SIGINT/SIGTERM, and stop the rest if one dies."""

    def __init__(
        self, children: list[Child], *, backlog: Callable[[], int | None] = lambda: None
    ) -> None:
        self.children = children
        self.signals = 0
        self.backlog = backlog
        self.reported_backlog = 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:  # a second Ctrl-C: do not wait any longer
            self._kill_all()

    def run(self, *, on_started: Callable[[], None] = lambda: None) -> int:
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            return self._run(on_started)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self, on_started: Callable[[], None]) -> int:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
        before_exec = die_with_parent()
        for child in self.children:
            # Each child in its own session: a terminal's Ctrl-C reaches them once, from here.
            child.process = subprocess.Popen(
                child.command, env=env, start_new_session=True, preexec_fn=before_exec
            )
            out.print(f"Started the {child.name} (pid {child.process.pid}).")
        # Threads only once every child is forked off.
        idle = _start_mail_idle(self.children)
        on_started()
        died: Child | None = None
        next_report = time.monotonic() + BACKLOG_REPORT_SECONDS
        while self.signals == 0 and died is None:
            died = next((c for c in self.children if _exited(c)), None)
            if died is None:
                time.sleep(POLL_SECONDS)
            if time.monotonic() >= next_report:
                self._report_backlog()
                next_report = time.monotonic() + BACKLOG_REPORT_SECONDS
        if died is not None:
            code = died.process.returncode if died.process else None
            fail(f"the {died.name} stopped unexpectedly (exit status {code}); stopping the rest.")
        else:
            out.print("Stopping…")
        if idle is not None:
            idle.stop()
        self._stop_all()
        if died is not None:
            return EXIT_FAILED
        out.print("Stopped.")
        return EXIT_OK

    def _report_backlog(self) -> None:
        """One progress line while a backlog drains, and one when it is gone."""
        waiting = self.backlog()
        if waiting is None:
            return
        if waiting >= BACKLOG_WORTH_REPORTING:
            change = ""
            if self.reported_backlog:
                per_second = (self.reported_backlog - waiting) / BACKLOG_REPORT_SECONDS
                change = f", {per_second:,.0f} a second" if per_second > 0 else ""
            out.print(f"Background tasks waiting: {waiting:,}{change}", highlight=False)
            self.reported_backlog = waiting
        elif self.reported_backlog:
            out.print("Background tasks have caught up.")
            self.reported_backlog = 0

    def _stop_all(self) -> None:
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                fail(f"the {child.name} did not stop within {STOP_GRACE_SECONDS} s; killing it.")
                child.process.kill()
                child.process.wait()

    def _kill_all(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.kill()


def _start_mail_idle(children: list[Child]) -> IdleLoop | None:
    """The IMAP IDLE loop in this process, where the scheduler polls; without it mail still
    comes by the periodic poll."""
    if not any(child.name == MAIL_IDLE_BESIDE for child in children):
        return None
    from patron.mail.idle import IdleLoop

    try:
        return IdleLoop().start()
    except Exception as error:  # e.g. no thread to be had: polling alone is enough
        fail(f"the IMAP IDLE loop did not start ({error}); mailboxes are polled every minute.")
        return None


def _exited(child: Child) -> bool:
    return child.process is not None and child.process.poll() is not None
