"""The embedded default is the product: `pip install patron` with no extras runs everything.

`make test` installs every extra into .venv, so only a venv without them proves this. The
fixture builds one from this checkout (`pip install .`, nothing else) once per run, and the
tests drive the `patron` command in it as subprocesses, the way a new user would.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import clean_env, free_port, is_running, wait_for_health

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600
COMMAND_TIMEOUT = 300
START_TIMEOUT = 90
STOP_TIMEOUT = 45
ALIVE_FOR_SECONDS = 20
# Modules that belong to an extra, each with the module its absence is reported by.
OPTIONAL_MODULES = {
    "patron.core.celery_app": "celery",
    "patron.core.celery_backend": "kombu",
    "patron.search.postgres": "psycopg2",  # Django falls back to psycopg2 when psycopg is absent
}
IMPORT_EVERY_MODULE = """
import importlib, json, os, pkgutil, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
import django
django.setup()
import patron
results = {}
for module in pkgutil.walk_packages(patron.__path__, "patron."):
    try:
        importlib.import_module(module.name)
        results[module.name] = None
    except ModuleNotFoundError as error:
        results[module.name] = error.name
    except Exception as error:
        results[module.name] = repr(error)
json.dump(results, sys.stdout)
"""


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with Patron and its required dependencies only, pinned like .venv's."""
    venv = tmp_path_factory.mktemp("base-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "-c", str(ROOT / "constraints.txt"), str(ROOT)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run(venv: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "patron"), *args],
        env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, cwd=venv,
    )  # fmt: skip


def test_the_base_install_has_no_optional_package(base_venv: Path) -> None:
    found = subprocess.run(
        [str(base_venv / "bin" / "python"), "-c",
         "import importlib.util as u; print([m for m in ('psycopg', 'psycopg2', 'celery', "
         "'kombu', 'redis', 'pytest') if u.find_spec(m)])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert found.stdout.strip() == "[]"


def test_every_module_imports_except_those_of_an_extra(base_venv: Path, data_dir: Path) -> None:
    import json

    result = subprocess.run(
        [str(base_venv / "bin" / "python"), "-c", IMPORT_EVERY_MODULE],
        env=clean_env(data_dir), capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        cwd=base_venv,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results: dict[str, str | None] = json.loads(result.stdout)

    failed = {name: error for name, error in results.items() if error is not None}
    assert failed == OPTIONAL_MODULES
    assert len(results) > 50  # the walk found the package, not an empty directory


def test_the_demo_loads_on_sqlite_with_nothing_left_queued(base_venv: Path, data_dir: Path) -> None:
    result = run(base_venv, "demo", "--no-serve", "--tickets", "50", env=clean_env(data_dir))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Loaded 50 tickets" in output
    assert "Traceback" not in output
    assert len(output.splitlines()) < 25, output  # a screenful, not a line per task


def _serve(venv: Path, data_dir: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [str(venv / "bin" / "patron"), "serve", "--port", str(port)],
        env=clean_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=venv,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    ).start()
    return process, lines


def test_it_serves_with_a_live_worker_and_scheduler_and_stops_on_sigint(
    base_venv: Path, data_dir: Path
) -> None:
    loaded = run(base_venv, "demo", "--no-serve", "--tickets", "50", env=clean_env(data_dir))
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    process, lines = _serve(base_venv, data_dir, port)
    try:
        status = wait_for_health(f"http://127.0.0.1:{port}/health", process, START_TIMEOUT)
        assert status == 200, "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10) as page:
            assert page.status == 200
        time.sleep(ALIVE_FOR_SECONDS)
        assert process.poll() is None, "".join(lines)
        pids = [
            int(p) for p in re.findall(r"^Started the .+ \(pid (\d+)\)\.$", "".join(lines), re.M)
        ]
        assert len(pids) == 3, "".join(lines)  # web server, worker, scheduler
        assert all(is_running(pid) for pid in pids), "".join(lines)

        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines)
    assert code == 0, output
    assert not [pid for pid in pids if is_running(pid)]
    assert "Traceback" not in output, output


@pytest.mark.parametrize(
    ("variable", "value", "extra"),
    [
        ("PATRON_TASK_BACKEND", "celery", "celery"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test", "postgres"),
        ("REDIS_URL", "redis://127.0.0.1:6379/0", "redis"),
    ],
)
@pytest.mark.parametrize("command", [("serve",), ("worker",), ("beat",), ("check",)])
def test_a_backend_whose_extra_is_missing_stops_with_one_sentence(
    base_venv: Path, data_dir: Path, variable: str, value: str, extra: str, command: tuple[str]
) -> None:
    result = run(base_venv, *command, env=clean_env(data_dir, **{variable: value}))

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"pip install 'patron[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command", [("check",), ("mail", "poll"), ("mail", "retry-failed"), ("manage", "check")]
)
def test_the_other_commands_run_on_the_base_install(
    base_venv: Path, data_dir: Path, command: tuple[str, ...]
) -> None:
    env = clean_env(data_dir)
    assert run(base_venv, "manage", "migrate", "--verbosity", "0", env=env).returncode == 0

    result = run(base_venv, *command, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
