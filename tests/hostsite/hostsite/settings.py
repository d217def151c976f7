"""Settings of a site unlike project/: own user model, New York time, no templates of ours, other URLs."""

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "hostsite-test-only-key-not-secret"  # a throwaway site inside a test
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    # What the README's "Add to your Django site" asks for:
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

ROOT_URLCONF = "hostsite.urls"
AUTH_USER_MODEL = "accounts.User"

# No DIRS: every template the app renders must come from the installed wheel.
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("HOSTSITE_DB", str(BASE_DIR / "hostsite.sqlite3")),
        "OPTIONS": {"timeout": 30},
    }
}

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
RQ_QUEUES = {
    "default": {"URL": REDIS_URL},
    "whereby_insights": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
}

# How this host's own jobs are enqueued; a test sets the legacy "request_finished" mode, under which
# django-rq holds jobs until a web request finishes (never, in a worker or a command).
RQ = json.loads(os.environ.get("HOSTSITE_RQ", "{}"))

WHEREBY_INSIGHTS = {
    "API_KEY": os.environ.get("WHEREBY_API_KEY"),
    "BASE_URL": os.environ.get("WHEREBY_API_BASE_URL", "https://api.whereby.dev/v1"),
    "QUEUE": "whereby_insights",
    "DETAIL_POLICY": "all",
    # The local simulator grants more than a real plan; the test should not wait on a budget.
    "PLAN_POINTS_PER_MINUTE": 100_000,
    "RATE_BUDGET_POINTS_PER_MINUTE": 100_000,
    # A test's extra settings, e.g. a low fan-out threshold.
    **json.loads(os.environ.get("HOSTSITE_INSIGHTS", "{}")),
}
# This site does not receive Whereby webhooks: the unconfigured endpoint answers 404 (docs/webhooks.md).
# Nothing is silenced: the README's install must pass `check --fail-level WARNING` as it stands
# (W101, the unset secret, is a deployment check: `check --deploy`).

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/assets/"
STATIC_ROOT = os.environ.get("HOSTSITE_STATIC_ROOT", str(BASE_DIR / "collected-static"))
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGIN_URL = "admin:login"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
