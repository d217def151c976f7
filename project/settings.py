"""Demo host site settings, read from the environment (12-factor)."""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable, refusing values that are neither."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


DEBUG = env_bool("DEBUG", False)
# A throwaway key is acceptable only for a local demo, DEBUG, or a test run (pytest sets PYTEST_VERSION).
_throwaway_key_ok = DEBUG or bool(os.environ.get("INSIGHTS_DEMO")) or "PYTEST_VERSION" in os.environ
# So is a command that signs nothing: help text, and the simulator (it serves a fake API, not this site).
_argv = sys.argv[1:] if Path(sys.argv[0]).name == "manage.py" else []
if _argv and (_argv[0] in {"help", "insights_simulator"} or {"-h", "--help"} & set(_argv)):
    _throwaway_key_ok = True
SECRET_KEY = os.environ.get("SECRET_KEY") or ("insecure-local-only-key" if _throwaway_key_ok else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=true for a local demo)")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "insights_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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


def env_seconds(name: str, default: int) -> int:
    """Read a whole number of seconds (0 or more) from the environment, refusing anything else."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ImproperlyConfigured(f"{name} must be a whole number of seconds (0 or more), not {value!r}")
    return int(value)


# Persistent connections pay off only under a server whose threads live (gunicorn, uwsgi): runserver
# starts a thread per request, so each request left its connection open for the full minute (44 idle
# connections in the demo, a shared PostgreSQL starved). Off by default; a deployment sets e.g. 60.
_conn_max_age = env_seconds("CONN_MAX_AGE", 0)
_default_sqlite = BASE_DIR / "var" / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{_default_sqlite}",
        conn_max_age=_conn_max_age,
        conn_health_checks=_conn_max_age > 0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _name = str(DATABASES["default"]["NAME"])
    Path(_name).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # A worker, the web process and the simulator's clients write at once in the demo.
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so that rqworker subprocesses in tests see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": _name.removesuffix(".sqlite3") + "-test.sqlite3"}

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    "whereby_insights": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
}
RQ = {"COMMIT_MODE": "on_db_commit"}
# django-rq would register its queue pages in the admin for every staff user; project/urls.py mounts
# them at /django-rq/ for superusers only.
RQ_SHOW_ADMIN_LINK = False

WHEREBY_INSIGHTS = {
    "API_KEY": os.environ.get("WHEREBY_API_KEY") or None,
    "BASE_URL": os.environ.get("WHEREBY_API_BASE_URL") or "https://api.whereby.dev/v1",
    "QUEUE": "whereby_insights",
    # Whereby webhooks (docs/webhooks.md): without a secret the endpoint answers 404.
    "WEBHOOK_SECRET": os.environ.get("WHEREBY_WEBHOOK_SECRET") or None,
}
if os.environ.get("WHEREBY_DETAIL_POLICY"):
    WHEREBY_INSIGHTS["DETAIL_POLICY"] = os.environ["WHEREBY_DETAIL_POLICY"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "insights_app": {"handlers": ["console"], "level": os.environ.get("INSIGHTS_LOG_LEVEL", "INFO")},
    },
}
