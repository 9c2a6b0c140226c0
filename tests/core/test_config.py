"""Configuration from the environment: defaults that work, and loud errors naming the variable."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from patron import config
from patron.config import ConfigError, env_bool, env_int, parse_database_url

READ_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "PATRON_DATA_DIR",
    "PATRON_SECRET_KEY",
    "PATRON_DEBUG",
    "PATRON_ALLOWED_HOSTS",
    "PATRON_CSRF_TRUSTED_ORIGINS",
    "PATRON_TIME_ZONE",
    "PATRON_TASK_BACKEND",
    "PATRON_SITE_URL",
    "PATRON_EMAIL_HOST",
    "PATRON_EMAIL_PORT",
    "PATRON_EMAIL_USER",
    "PATRON_EMAIL_PASSWORD",
    "PATRON_EMAIL_USE_TLS",
    "PATRON_EMAIL_USE_SSL",
    "PATRON_EMAIL_FROM",
    "PATRON_EMAIL_TIMEOUT",
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with nothing set but a data directory of the test's own."""
    for name in READ_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


# DATABASE_URL


def test_it_uses_sqlite_in_the_data_directory_when_database_url_is_empty(tmp_path: Path) -> None:
    database = parse_database_url("", data_dir=tmp_path)

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "patron.sqlite3")


def test_it_reads_a_relative_sqlite_path(tmp_path: Path) -> None:
    database = parse_database_url("sqlite:///var/desk.sqlite3", data_dir=tmp_path)

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == "var/desk.sqlite3"
    assert database["TEST"] == {"NAME": "var/test_desk.sqlite3"}


def test_it_reads_an_absolute_sqlite_path(tmp_path: Path) -> None:
    database = parse_database_url("sqlite:////srv/patron/desk.sqlite3", data_dir=tmp_path)

    assert database["NAME"] == "/srv/patron/desk.sqlite3"


def test_it_tunes_sqlite_for_several_processes(tmp_path: Path) -> None:
    options = parse_database_url("", data_dir=tmp_path)["OPTIONS"]

    assert isinstance(options, dict)
    assert "journal_mode=WAL" in options["init_command"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] == config.SQLITE_BUSY_TIMEOUT_SECONDS


def test_it_reads_every_part_of_a_postgres_url(tmp_path: Path) -> None:
    url = "postgres://desk%20user:p%40ss%3Aword@db.internal:6543/help%20desk?sslmode=require&connect_timeout=5"

    database = parse_database_url(url, data_dir=tmp_path)

    assert database == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "help desk",
        "USER": "desk user",
        "PASSWORD": "p@ss:word",
        "HOST": "db.internal",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require", "connect_timeout": "5"},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
    }


def test_it_takes_the_default_postgres_port_and_the_long_scheme(tmp_path: Path) -> None:
    database = parse_database_url("postgresql://db/patron", data_dir=tmp_path)

    assert (database["HOST"], database["PORT"], database["USER"]) == ("db", "5432", "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@db/patron", "is not understood; use postgres://"),
        ("patron.sqlite3", "is not understood"),
        ("sqlite://", "is not a SQLite URL"),
        ("sqlite:///", "is not a SQLite URL"),
        ("sqlite://server/desk.sqlite3", "is not a SQLite URL"),
        ("postgres://db:five/patron", "has a port that is not a number"),
        ("postgres://db:99999/patron", "has a port that is not a number"),
        ("postgres:///patron", "needs a host and a database name"),
        ("postgres://db:5432/", "needs a host and a database name"),
    ],
)
def test_it_refuses_a_database_url_it_cannot_use(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_database_url(url, data_dir=tmp_path)

    assert str(raised.value).startswith("DATABASE_URL=")


@pytest.mark.parametrize(
    "url", ["postgres://desk:hunter2@db:port/patron", "postgres://desk:hunter2@/patron"]
)
def test_it_does_not_repeat_the_password_in_an_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_database_url(url, data_dir=tmp_path)

    assert "hunter2" not in str(raised.value)
    assert "desk:***@" in str(raised.value)


def test_it_refuses_a_bad_database_url_at_load(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "postgress://db/patron")

    with pytest.raises(ConfigError, match="DATABASE_URL="):
        config.load()


# Booleans and numbers


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)]
)
def test_it_reads_a_boolean(raw: str, value: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_DEBUG", raw)

    assert env_bool("PATRON_DEBUG", not value) is value


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_it_takes_the_default_for_an_unset_boolean(
    raw: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv("PATRON_DEBUG", raising=False)
    else:
        monkeypatch.setenv("PATRON_DEBUG", raw)

    assert env_bool("PATRON_DEBUG", True) is True


def test_it_refuses_a_boolean_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_DEBUG", "maybe")

    with pytest.raises(ConfigError, match="PATRON_DEBUG='maybe' is not a boolean"):
        env_bool("PATRON_DEBUG", False)


def test_it_reads_a_whole_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_EMAIL_PORT", " 587 ")

    assert env_int("PATRON_EMAIL_PORT", 25) == 587


def test_it_refuses_a_number_that_is_not_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_EMAIL_PORT", "25.5")

    with pytest.raises(
        ConfigError, match=re.escape("PATRON_EMAIL_PORT='25.5' is not a whole number")
    ):
        env_int("PATRON_EMAIL_PORT", 25)


@pytest.mark.parametrize("raw", ["0", "70000"])
def test_it_refuses_a_number_out_of_range(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_EMAIL_PORT", raw)

    with pytest.raises(ConfigError, match=f"PATRON_EMAIL_PORT='{raw}' must be between 1 and"):
        env_int("PATRON_EMAIL_PORT", 25, minimum=1)


# load()


def test_it_loads_working_defaults_from_an_empty_environment(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded = config.load()

    assert loaded.data_dir == tmp_path / "data"
    assert loaded.database["NAME"] == str(tmp_path / "data" / "patron.sqlite3")
    assert (loaded.time_zone, loaded.task_backend, loaded.debug) == ("UTC", "db", False)
    assert loaded.csrf_trusted_origins == ["http://localhost:8000"]


def test_it_takes_an_empty_variable_as_unset(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_TIME_ZONE", "")
    environment.setenv("PATRON_TASK_BACKEND", " ")

    loaded = config.load()

    assert (loaded.time_zone, loaded.task_backend) == ("UTC", "db")


def test_it_reads_a_time_zone(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_TIME_ZONE", "Europe/Berlin")

    assert config.load().time_zone == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/"])
def test_it_refuses_an_unknown_time_zone(zone: str, environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_TIME_ZONE", zone)

    with pytest.raises(ConfigError, match=r"PATRON_TIME_ZONE=.* is not a known time zone"):
        config.load()


def test_it_refuses_an_unknown_task_backend(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_TASK_BACKEND", "rq")

    with pytest.raises(
        ConfigError, match="PATRON_TASK_BACKEND='rq' is not a task backend; use one of db, celery"
    ):
        config.load()


def test_it_generates_a_secret_key_once_and_keeps_it(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = config.load().secret_key
    second = config.load().secret_key

    key_file = tmp_path / "data" / "secret_key"
    assert first == second == key_file.read_text()
    assert len(first) >= 50
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert sorted(path.name for path in key_file.parent.iterdir()) == ["secret_key"]


def test_it_prefers_the_secret_key_given_in_the_environment(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("PATRON_SECRET_KEY", "k" * 40)

    assert config.load().secret_key == "k" * 40
    assert not (tmp_path / "data" / "secret_key").exists()


def test_it_refuses_a_short_secret_key(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_SECRET_KEY", "hunter2")

    with pytest.raises(ConfigError, match="PATRON_SECRET_KEY is too short"):
        config.load()


def test_it_refuses_a_data_directory_it_cannot_create(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    environment.setenv("PATRON_DATA_DIR", str(blocker / "data"))

    with pytest.raises(ConfigError, match=r"PATRON_DATA_DIR=.* cannot be created"):
        config.load()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PATRON_SITE_URL", "localhost:8000"),
        ("CELERY_BROKER_URL", "kafka://broker:9092"),
        ("REDIS_URL", "http://cache:6379"),
    ],
)
def test_it_refuses_a_url_with_the_wrong_scheme(
    name: str, value: str, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv(name, value)

    with pytest.raises(ConfigError, match=f"{name}='{value}' is not a valid URL"):
        config.load()


def test_it_refuses_both_tls_and_ssl_for_mail(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_EMAIL_USE_TLS", "true")
    environment.setenv("PATRON_EMAIL_USE_SSL", "true")

    with pytest.raises(ConfigError, match="cannot both be true"):
        config.load()


def test_it_refuses_a_from_address_without_an_at_sign(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PATRON_EMAIL_FROM", "Support")

    with pytest.raises(ConfigError, match="PATRON_EMAIL_FROM='Support' is not an email address"):
        config.load()


# Optional backends: each needs its extra, and says which when it is missing


@pytest.mark.parametrize(
    ("variable", "value", "extra"),
    [
        ("PATRON_TASK_BACKEND", "celery", "celery"),
        ("DATABASE_URL", "postgres://patron@127.0.0.1/patron", "postgres"),
        ("REDIS_URL", "redis://127.0.0.1:6379/0", "redis"),
    ],
)
def test_it_names_the_extra_a_chosen_backend_needs_when_it_is_missing(
    variable: str, value: str, extra: str, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv(variable, value)
    # This venv has every extra; pretend one of its modules is absent.
    environment.setitem(config.EXTRAS, extra, ("patron_no_such_module",))

    with pytest.raises(ConfigError, match=re.escape(f"run pip install 'patron[{extra}]'")):
        config.load()


def test_it_asks_for_no_extra_on_the_embedded_default(environment: pytest.MonkeyPatch) -> None:
    for extra in config.EXTRAS:
        environment.setitem(config.EXTRAS, extra, ("patron_no_such_module",))

    loaded = config.load()

    assert loaded.task_backend == "db"
    assert str(loaded.database["ENGINE"]).endswith("sqlite3")
