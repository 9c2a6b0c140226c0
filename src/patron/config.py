"""Read Patron's configuration from the environment, failing loudly on a bad value.

Every variable has a default that works on one machine with no other server. A value that is
present but wrong stops start-up with one sentence that names the variable; nothing falls back
silently. `docs/configuration.md` lists every variable read here.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

TASK_BACKENDS = ("db", "celery", "immediate")
# Each optional backend's extra and the top-level modules it installs (see pyproject.toml).
EXTRAS: dict[str, tuple[str, ...]] = {
    "postgres": ("psycopg",),
    "celery": ("celery", "kombu", "redis"),
    "redis": ("redis",),
}
SQLITE_BUSY_TIMEOUT_SECONDS = 20


class ConfigError(Exception):
    """A configuration value is wrong; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database: dict[str, object]
    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    time_zone: str
    task_backend: str
    celery_broker_url: str
    redis_url: str
    email: dict[str, object]
    site_url: str


def _env(name: str, default: str = "") -> str:
    """The variable's value; unset and empty (`NAME=` in an env file) both mean the default."""
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false.")


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _env(name, default)
    if raw.upper() not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}.")
    return raw.upper()


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 65535) -> int:
    raw = _env(name)
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between {minimum} and {maximum}.")
    return value


def _without_password(url: str) -> str:
    """The URL as it may appear in an error message: the password replaced by ***."""
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    if not password:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{hostport}").geturl()


def parse_database_url(url: str, *, data_dir: Path) -> dict[str, object]:
    """Turn DATABASE_URL into Django's DATABASES['default']; empty means SQLite in data_dir."""
    if url == "":
        return sqlite_database(data_dir / "patron.sqlite3")
    parts = urlsplit(url)
    shown = _without_password(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if parts.netloc or not path:
            raise ConfigError(
                f"DATABASE_URL={shown!r} is not a SQLite URL; "
                "write sqlite:///relative/path.sqlite3 or sqlite:////absolute/path.sqlite3."
            )
        return sqlite_database(Path(path))
    if parts.scheme in ("postgres", "postgresql"):
        name = unquote(parts.path.lstrip("/"))
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"DATABASE_URL={shown!r} has a port that is not a number.") from None
        if not parts.hostname or not name:
            raise ConfigError(
                f"DATABASE_URL={shown!r} needs a host and a database name, "
                "like postgres://user:password@127.0.0.1:5432/patron."
            )
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname,
            "PORT": str(port or 5432),
            "OPTIONS": options,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ConfigError(
        f"DATABASE_URL={shown!r} is not understood; use postgres://… or sqlite:///…, "
        "or leave it unset for the embedded SQLite database."
    )


def sqlite_database(path: Path) -> dict[str, object]:
    """SQLite tuned for a web server, a worker and a scheduler sharing one file."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


def _secret_key(data_dir: Path) -> str:
    """PATRON_SECRET_KEY, or a key generated once and kept in the data directory."""
    given = _env("PATRON_SECRET_KEY")
    if given:
        if len(given) < 32:
            raise ConfigError("PATRON_SECRET_KEY is too short; use at least 32 random characters.")
        return given
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    # Written whole and readable by its owner only, then linked into place, which fails if
    # another process starting at the same moment got there first; then its key is the key.
    key = secrets.token_urlsafe(50)
    draft = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
        os.link(draft, key_file)
    except FileExistsError:
        return key_file.read_text().strip()
    finally:
        draft.unlink()
    return key


def _data_dir() -> Path:
    data_dir = Path(_env("PATRON_DATA_DIR", "patron-data")).expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"PATRON_DATA_DIR={str(data_dir)!r} cannot be created ({error.strerror})."
        ) from None
    if not os.access(data_dir, os.W_OK):
        raise ConfigError(f"PATRON_DATA_DIR={str(data_dir)!r} is not writable.")
    return data_dir


def _time_zone() -> str:
    name = _env("PATRON_TIME_ZONE", "UTC")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"PATRON_TIME_ZONE={name!r} is not a known time zone; use a name like Europe/Berlin."
        ) from None
    return name


def _task_backend() -> str:
    name = _env("PATRON_TASK_BACKEND", "db")
    if name not in TASK_BACKENDS:
        raise ConfigError(
            f"PATRON_TASK_BACKEND={name!r} is not a task backend; use one of "
            f"{', '.join(TASK_BACKENDS)}."
        )
    return name


def _url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _env(name, default)
    scheme = urlsplit(value).scheme
    if scheme not in schemes or not urlsplit(value).hostname:
        raise ConfigError(
            f"{name}={value!r} is not a valid URL; it must start with "
            f"{' or '.join(s + '://' for s in schemes)} and name a host."
        )
    return value


def _email() -> dict[str, object]:
    use_tls = env_bool("PATRON_EMAIL_USE_TLS", False)
    use_ssl = env_bool("PATRON_EMAIL_USE_SSL", False)
    if use_tls and use_ssl:
        raise ConfigError("PATRON_EMAIL_USE_TLS and PATRON_EMAIL_USE_SSL cannot both be true.")
    from_address = _env("PATRON_EMAIL_FROM", "Patron <support@localhost>")
    if "@" not in from_address:
        raise ConfigError(f"PATRON_EMAIL_FROM={from_address!r} is not an email address.")
    return {
        "EMAIL_HOST": _env("PATRON_EMAIL_HOST", "localhost"),
        "EMAIL_PORT": env_int("PATRON_EMAIL_PORT", 25, minimum=1),
        "EMAIL_HOST_USER": _env("PATRON_EMAIL_USER"),
        "EMAIL_HOST_PASSWORD": _env("PATRON_EMAIL_PASSWORD"),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "DEFAULT_FROM_EMAIL": from_address,
        "EMAIL_TIMEOUT": env_int("PATRON_EMAIL_TIMEOUT", 30, minimum=1, maximum=600),
    }


def _list(name: str, default: str) -> list[str]:
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


def require_extra(extra: str, *, chosen_by: str) -> None:
    """Stop with one sentence when a configured backend's extra is not installed."""
    missing = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(
            f"{chosen_by} needs the {extra} extra, which is not installed ({missing[0]} is "
            f"missing); run pip install 'patron[{extra}]'."
        )


def _require_extras(loaded: Config) -> None:
    if str(loaded.database["ENGINE"]).endswith("postgresql"):
        require_extra("postgres", chosen_by="DATABASE_URL (PostgreSQL)")
    if loaded.task_backend == "celery":
        require_extra("celery", chosen_by="PATRON_TASK_BACKEND=celery")
    if loaded.redis_url:
        require_extra("redis", chosen_by="REDIS_URL")


def load() -> Config:
    """Read and check every variable; raise ConfigError on the first bad one."""
    loaded = _read()
    _require_extras(loaded)
    return loaded


def _read() -> Config:
    data_dir = _data_dir()
    site_url = _url("PATRON_SITE_URL", "http://localhost:8000", ("http", "https"))
    return Config(
        data_dir=data_dir,
        database=parse_database_url(_env("DATABASE_URL"), data_dir=data_dir),
        secret_key=_secret_key(data_dir),
        debug=env_bool("PATRON_DEBUG", False),
        allowed_hosts=_list("PATRON_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"),
        csrf_trusted_origins=_list("PATRON_CSRF_TRUSTED_ORIGINS", site_url),
        time_zone=_time_zone(),
        task_backend=_task_backend(),
        celery_broker_url=_url(
            "CELERY_BROKER_URL",
            "amqp://guest:guest@127.0.0.1:5672//",
            ("amqp", "pyamqp", "redis", "rediss"),
        ),
        redis_url=_env("REDIS_URL") and _url("REDIS_URL", "", ("redis", "rediss")),
        email=_email(),
        site_url=site_url,
    )
