"""Django settings, all read from the environment by `patron.config` (see docs/configuration.md)."""

from __future__ import annotations

from patron import config

CONFIG = config.load()

DATA_DIR = CONFIG.data_dir
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
PATRON_SITE_URL = CONFIG.site_url

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "patron.core",
    "patron.people",
    "patron.tickets",
    "patron.sla",
    "patron.search",
    "patron.portal",
    "patron.admin_ui",
    "patron.notifications",
    "patron.webhooks",
    "patron.automation",
    "patron.mail",
    "patron.workspace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "patron.urls"
WSGI_APPLICATION = "patron.wsgi.application"
ASGI_APPLICATION = "patron.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ticket_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = CONFIG.time_zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "files"
MEDIA_URL = "files/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# The public web form (/support/new): abuse limits, see docs/web-form.md.
PATRON_WEB_FORM_ADDRESS_LIMIT = config.env_int("PATRON_WEB_FORM_ADDRESS_LIMIT", 5, minimum=1)
PATRON_WEB_FORM_ADDRESS_WINDOW_MINUTES = config.env_int(
    "PATRON_WEB_FORM_ADDRESS_WINDOW_MINUTES", 10, minimum=1, maximum=1440
)
PATRON_WEB_FORM_IP_LIMIT = config.env_int("PATRON_WEB_FORM_IP_LIMIT", 20, minimum=1)
PATRON_WEB_FORM_IP_WINDOW_MINUTES = config.env_int(
    "PATRON_WEB_FORM_IP_WINDOW_MINUTES", 60, minimum=1, maximum=1440
)
PATRON_WEB_FORM_MAX_FILES = config.env_int("PATRON_WEB_FORM_MAX_FILES", 10, minimum=0, maximum=100)
PATRON_WEB_FORM_MAX_UPLOAD_MB = config.env_int("PATRON_WEB_FORM_MAX_UPLOAD_MB", 50, minimum=1)
# True when a reverse proxy appends the client's address to X-Forwarded-For.
PATRON_BEHIND_PROXY = config.env_bool("PATRON_BEHIND_PROXY", False)

# The largest attachment accepted from any channel; larger files are refused with a message.
PATRON_MAX_ATTACHMENT_BYTES = (
    config.env_int("PATRON_MAX_ATTACHMENT_MB", 25, minimum=1, maximum=2048) * 1024 * 1024
)

# Background work: one API (django.tasks), the backend chosen by PATRON_TASK_BACKEND.
PATRON_TASK_BACKEND = CONFIG.task_backend
_TASK_BACKENDS = {
    "db": "django_tasks_db.DatabaseBackend",
    "celery": "patron.core.celery_backend.CeleryBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[CONFIG.task_backend]}}

CELERY_BROKER_URL = CONFIG.celery_broker_url
REDIS_URL = CONFIG.redis_url

globals().update(CONFIG.email)
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

# The console: warnings, errors and start-up lines by default; one line per task at DEBUG.
PATRON_LOG_LEVEL = config.env_choice(
    "PATRON_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
)
# Lines per background task (two each) only when asked for: they would drown the rest.
_TASK_LOG_LEVEL = "DEBUG" if PATRON_LOG_LEVEL == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": PATRON_LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.tasks": {"level": _TASK_LOG_LEVEL},
        "django_tasks_db": {"level": PATRON_LOG_LEVEL},  # its worker's start and stop
    },
}
# How often an open page re-renders its running SLA badges (they count down in the policy's terms,
# business time included, which only the server knows).
PATRON_SLA_BADGE_REFRESH_SECONDS = config.env_int(
    "PATRON_SLA_BADGE_REFRESH_SECONDS", 30, minimum=1, maximum=3600
)

# uvicorn's access log: one line per request; PATRON_ACCESS_LOG=false turns it off.
PATRON_ACCESS_LOG = config.env_bool("PATRON_ACCESS_LOG", True)
