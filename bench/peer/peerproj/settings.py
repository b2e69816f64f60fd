"""Minimal Django project hosting the PyPI package `django-appointment` (peer side of a benchmark).

Database is chosen with environment variables:
  PEER_DB=sqlite (default)  -> file at PEER_SQLITE_PATH (default: the system temp folder)
  PEER_DB=postgres          -> PEER_PG_HOST (127.0.0.1), PEER_PG_PORT (5432),
                               PEER_PG_USER (postgres), PEER_PG_PASSWORD (''),
                               PEER_PG_NAME (peer_django_appointment)
"""

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "peer-bench-not-secret"  # noqa: S105 - a benchmark, never served
DEBUG = False  # keep False so Django does not record every query during timing
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "appointment",
]
SITE_ID = 1

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "peerproj.urls"

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
            ]
        },
    }
]

if os.environ.get("PEER_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PEER_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("PEER_PG_PORT", "5432"),
            "USER": os.environ.get("PEER_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("PEER_PG_PASSWORD", ""),
            "NAME": os.environ.get("PEER_PG_NAME", "peer_django_appointment"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get(
                "PEER_SQLITE_PATH",
                os.path.join(tempfile.gettempdir(), "peer_django_appointment.sqlite3"),
            ),
        }
    }

# Local-memory cache: django-appointment caches its Config singleton through the cache framework.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("PEER_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Emails go nowhere; django-q is not installed, so reminders are skipped (the package logs a
# warning).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ADMINS: list[tuple[str, str]] = []

# django-appointment settings (also overridable at runtime by its Config model)
AUTH_USER_MODEL = "auth.User"
APPOINTMENT_WEBSITE_NAME = "Peer bench"
APPOINTMENT_SLOT_DURATION = 30
APPOINTMENT_BUFFER_TIME = 0
APPOINTMENT_LEAD_TIME = (9, 0)
APPOINTMENT_FINISH_TIME = (18, 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "CRITICAL"},
}

# The PyPI wheel ships no migrations (its docs tell users to run `makemigrations appointment`);
# keep the generated ones inside this project instead of site-packages.
MIGRATION_MODULES = {"appointment": "peerproj.appointment_migrations"}
