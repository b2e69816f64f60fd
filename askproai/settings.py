"""Django settings, read from the environment with the contract's embedded defaults (section 2).

A fresh clone runs on SQLite, the local-memory cache and eager Celery; setting DATABASE_URL,
REDIS_URL and CELERY_BROKER_URL switches to PostgreSQL, Redis and real workers.
"""

import hashlib
import warnings
from pathlib import Path
from typing import Any

import dj_database_url

from askproai.env import env_bool, env_float, env_int, env_json, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# The embedded key is for local development only; any deployment sets SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "askproai-insecure-development-key-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Bodies larger than this are answered 413 on the API paths (mcp_core.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
# The longest path and query string an API request may have (414 in the envelope beyond).
MAX_REQUEST_LINE = env_int("MAX_REQUEST_LINE", 16_384)

# DJANGO_ENV=production: served over HTTPS behind a TLS proxy that sets X-Forwarded-Proto
# (docs/operations.md). Cookies only over HTTPS, HSTS, plain HTTP redirected; health and metrics
# are exempt from the redirect so the load balancer and Prometheus may probe the port directly.
DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ValueError(f"DJANGO_ENV={DJANGO_ENV!r}: use development or production")
PRODUCTION = DJANGO_ENV == "production"
if PRODUCTION and SECRET_KEY.startswith("askproai-insecure-"):
    raise ValueError("DJANGO_ENV=production needs its own SECRET_KEY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = PRODUCTION
SECURE_REDIRECT_EXEMPT = [r"^mcp/health$", r"^livez$", r"^metrics$"]
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION

INSTALLED_APPS = [
    # Django's admin with the operations console's site (start page "Heute").
    "mcp_core.console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "tenants",
    "staff",
    "bookings",
    "routing",
    "integrations",
    "mcp_core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mcp_core.middleware.CorrelationIdMiddleware",
    "mcp_core.middleware.RequestGuardMiddleware",
    "mcp_core.shedding.LoadSheddingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mcp_core.console.language.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "askproai.urls"
WSGI_APPLICATION = "askproai.wsgi.application"
ASGI_APPLICATION = "askproai.asgi.application"

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

DATABASE_URL = env_str("DATABASE_URL", "sqlite:///" + str(BASE_DIR / "db.sqlite3"))
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and a shell write at the same time;
    # IMMEDIATE transactions take the write lock up front, so check-then-insert is serialised.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
    # Server-side parameter binding lets psycopg prepare a statement once it has run
    # prepare_threshold times on a connection; PostgreSQL then skips parsing and planning it
    # again (about 30% less database CPU per booking, bench/booking.py). Turn it off behind a
    # PgBouncer older than 1.21 in transaction mode, which cannot carry prepared statements.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)
    # Behind PgBouncer in transaction mode a named cursor may outlive its transaction's server
    # connection; iterator() then fetches in chunks on the client instead (docs/operations.md).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool(
        "DISABLE_SERVER_SIDE_CURSORS", False
    )
# A streaming replica for reporting reads (common/replica.py); never availability or booking.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
        "DISABLE_SERVER_SIDE_CURSORS": DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
        # Tests read the replica through the primary's test database.
        "TEST": {"MIRROR": "default"},
    }
# Without a replica there is nothing to route: Django then asks no router for every query.
DATABASE_ROUTERS = ["common.replica.ReportingReplicaRouter"] if "replica" in DATABASES else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "askproai",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage must degrade the service, not break it (docs/contract.md).
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "askproai",
        }
    }

# Live channels (mcp_core.realtime): Redis lets every process publish to every subscriber;
# without it, only subscribers of the same process hear an event (`make run`, tests).
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default socket timeout (5 s) equals the layer's blocking pop
                # (5 s): a quiet subscriber's read would time out and drop its socket.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                # Another installation (or a benchmark) on the same Redis uses its own.
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "askproai:channels:"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# How many missed events a reconnecting subscriber is sent at most (then it reloads).
REALTIME_REPLAY_LIMIT = env_int("REALTIME_REPLAY_LIMIT", 1000)
# Outbound webhooks go to https:// only; plain http to localhost is allowed outside production
# (a receiver on the developer's machine, the tests).
WEBHOOKS_OUT_ALLOW_LOCAL_HTTP = env_bool("WEBHOOKS_OUT_ALLOW_LOCAL_HTTP", not PRODUCTION)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "de-de"
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
# Stored in UTC; the admin shows Berlin time. Each branch has its own IANA zone for scheduling.
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the admin's assets under runserver and gunicorn alike; with finders it
# needs no collectstatic step, which keeps `make run` and `make serve` to one command each.
WHITENOISE_USE_FINDERS = True
# Without collectstatic there is no STATIC_ROOT yet; the finders serve everything meanwhile.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "mcp_core.rest.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mcp_core.parsers.BodyParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AskProAI API",
    "DESCRIPTION": "The AskProAI backend: every operation of the MCP orchestrator over REST.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # One name for the appointment status wherever an output model carries it.
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": ["pending", "confirmed", "cancelled", "completed", "no_show"]
    },
    # The operations' schemas are pydantic's JSON Schema 2020-12 (nullable as anyOf null),
    # which OpenAPI 3.1 takes as it is.
    "OAS_VERSION": "3.1.0",
    # Every REST route takes the API key as a Bearer token; Swagger UI offers "Authorize".
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyBearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "apk_<prefix>_<secret>",
                "description": "An API key (manage.py create_api_key; make run prints the demo's).",
            }
        }
    },
    "SECURITY": [{"ApiKeyBearer": []}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mcp_core.rest.require_bodies_with_required_fields",
    ],
    # Swagger UI and ReDoc come from the pinned drf-spectacular-sidecar package and are
    # served by WhiteNoise like the admin's assets: the docs work with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
}

# Celery: with no broker configured, tasks run eagerly in the calling process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
# RabbitMQ is the production broker (docs/operations.md): a task is acknowledged only when it
# has run, so a worker killed mid-task leaves it queued for another; one task reserved per
# process; the queue is durable and messages persistent, so a broker restart keeps them;
# publisher confirms make a publish return only once RabbitMQ has taken the message.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"confirm_publish": True} if CELERY_BROKER_URL.startswith("amqp") else {}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TIMEZONE = "UTC"
# Seconds between beat's runs of the saga recovery and of the outbox sweep.
MCP_SAGA_RECOVERY_INTERVAL = env_float("MCP_SAGA_RECOVERY_INTERVAL", 60.0)
MCP_OUTBOX_SWEEP_INTERVAL = env_float("MCP_OUTBOX_SWEEP_INTERVAL", 30.0)
CELERY_BEAT_SCHEDULE = {
    "recover-stale-sagas": {
        "task": "mcp_core.tasks.recover_stale_sagas",
        "schedule": MCP_SAGA_RECOVERY_INTERVAL,
    },
    "send-sms-reminders": {"task": "bookings.tasks.send_due_reminders", "schedule": 300.0},
    "deliver-due-outbox-messages": {
        "task": "mcp_core.tasks.deliver_due_outbox_messages",
        "schedule": MCP_OUTBOX_SWEEP_INTERVAL,
    },
    "check-mcp-upstreams": {"task": "mcp_core.tasks.check_upstreams", "schedule": 60.0},
}

# Observability
SENTRY_DSN = env_str("SENTRY_DSN", "")
OTEL_EXPORTER_OTLP_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "")

# The MCP_* settings (docs/contract.md)
MCP_TIMEOUT = env_int("MCP_TIMEOUT", 30)
# Admin login throttle (django-ratelimit, in the cache): failed attempts per username and per
# client address; over either rate the login answers 429 until the window has passed.
ADMIN_LOGIN_FAILURES_PER_USERNAME = env_str("ADMIN_LOGIN_FAILURES_PER_USERNAME", "5/15m")
ADMIN_LOGIN_FAILURES_PER_ADDRESS = env_str("ADMIN_LOGIN_FAILURES_PER_ADDRESS", "20/15m")
# With Redis unreachable the admin login stays usable (unthrottled) rather than locked.
RATELIMIT_FAIL_OPEN = True
MCP_MAX_RETRIES = env_int("MCP_MAX_RETRIES", 3)
MCP_BOOKING_LOCK_TIMEOUT = env_int("MCP_BOOKING_LOCK_TIMEOUT", 300)
MCP_BOOKING_MAX_ADVANCE_DAYS = env_int("MCP_BOOKING_MAX_ADVANCE_DAYS", 90)
MCP_STAFF_SCHEDULE_CACHE_TTL = env_int("MCP_STAFF_SCHEDULE_CACHE_TTL", 3600)
MCP_CIRCUIT_FAILURE_THRESHOLD = env_int("MCP_CIRCUIT_FAILURE_THRESHOLD", 5)
MCP_CIRCUIT_RECOVERY_TIMEOUT = env_int("MCP_CIRCUIT_RECOVERY_TIMEOUT", 60)
MCP_RATE_LIMIT_BASIC = env_int("MCP_RATE_LIMIT_BASIC", 100)
MCP_RATE_LIMIT_PRO = env_int("MCP_RATE_LIMIT_PRO", 1000)
MCP_RATE_LIMIT_ENTERPRISE = env_int("MCP_RATE_LIMIT_ENTERPRISE", 10000)
MCP_RATE_LIMIT_WINDOW = env_int("MCP_RATE_LIMIT_WINDOW", 3600)
# The phone line's own budget per tenant and window (Retell webhooks and custom functions),
# apart from the plan's API budget, so an API client cannot silence the phone; -1: unlimited.
MCP_RATE_LIMIT_PHONE = env_int("MCP_RATE_LIMIT_PHONE", 2000)
MCP_METRICS_ENABLED = env_bool("MCP_METRICS_ENABLED", True)
MCP_TRACING_ENABLED = env_bool("MCP_TRACING_ENABLED", True)
MCP_TRACING_SAMPLE_RATE = env_float("MCP_TRACING_SAMPLE_RATE", 0.1)
# Browser origins allowed to call /mcp besides this host's own (the Origin header is checked).
MCP_ALLOWED_ORIGINS = env_list("MCP_ALLOWED_ORIGINS", [])
# Extra per-service limits on top of the plan's, per tenant and window, e.g.
# MCP_SERVICE_RATE_LIMITS='{"integration": 60}'. Empty: only the plan limit applies.
MCP_SERVICE_RATE_LIMITS = env_json("MCP_SERVICE_RATE_LIMITS", {})
# A saga run not updated for this long is taken as left behind by a dead process.
MCP_SAGA_STALE_AFTER = env_int("MCP_SAGA_STALE_AFTER", 120)
# Seconds a worker trusts a checked API key before asking the database again (0: every call).
# A revoked key or deactivated tenant is refused by every worker within this time.
MCP_AUTH_CACHE_TTL = env_int("MCP_AUTH_CACHE_TTL", 10)
# Seconds a worker trusts its copy of the feature flags before comparing the cache's version
# (a change made in this worker shows at once).
FEATURE_FLAG_CHECK_SECONDS = env_float("FEATURE_FLAG_CHECK_SECONDS", 1.0)
# Load shedding (mcp_core.load): requests in flight per worker and kind of caller; under load
# (the latency average over LOAD_SHED_LATENCY_TARGET seconds, or the database's busy sessions
# over LOAD_SHED_DB_SESSIONS_TARGET) API clients' share shrinks first, the admin's next, the
# phone line's never.
LOAD_SHED_SLOTS = env_json("LOAD_SHED_SLOTS", {"phone": 64, "admin": 8, "api": 16})
LOAD_SHED_LATENCY_TARGET = env_float("LOAD_SHED_LATENCY_TARGET", 0.25)
# Busy sessions of the database (pg_stat_activity: not idle) that count as pressure 1; 0: the
# database is not sampled. Sampled at most every LOAD_SHED_DB_SAMPLE_SECONDS per process.
LOAD_SHED_DB_SESSIONS_TARGET = env_int("LOAD_SHED_DB_SESSIONS_TARGET", 24)
LOAD_SHED_DB_SAMPLE_SECONDS = env_float("LOAD_SHED_DB_SAMPLE_SECONDS", 1.0)
LOAD_SHED_RETRY_AFTER = env_int("LOAD_SHED_RETRY_AFTER", 2)
# Seconds a worker answers a REST key refused for its plan's rate limit without any other work
# (never past the window; 0: every call takes the full path).
LOAD_SHED_REFUSAL_MEMORY = env_float("LOAD_SHED_REFUSAL_MEMORY", 5.0)

# Integrations: one with no key configured reports "not_configured" and is skipped.
CALCOM_API_URL = env_str("CALCOM_API_URL", "https://api.cal.com")
CALCOM_API_KEY = env_str("CALCOM_API_KEY", "")
CALCOM_WEBHOOK_SECRET = env_str("CALCOM_WEBHOOK_SECRET", "")

# Credentials held in the database (a tenant's Cal.com API key and webhook secret) are encrypted
# with django-fernet-encrypted-fields: Fernet keys derived from SECRET_KEY (and
# SECRET_KEY_FALLBACKS) with each of FIELD_ENCRYPTION_KEYS. The first key encrypts, every key
# decrypts; rotation in docs/operations.md. The embedded default derives a development key.
FIELD_ENCRYPTION_KEYS = env_list(
    "FIELD_ENCRYPTION_KEYS",
    [hashlib.sha256(f"askproai-field-encryption:{SECRET_KEY}".encode()).hexdigest()],
)
SALT_KEY = FIELD_ENCRYPTION_KEYS
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
RETELL_API_KEY = env_str("RETELL_API_KEY", "")
STRIPE_API_KEY = env_str("STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
SMS_BACKEND = env_str("SMS_BACKEND", "console")
# Customer SMS go through a port of the bookings app (`bookings.notifications.sms`); like
# EMAIL_BACKEND its adapter is a class imported by dotted path. SMS_BACKEND is one of these short
# names or itself a dotted path.
SMS_BACKENDS = {
    "console": "bookings.notifications.sms.ConsoleSms",
    "twilio": "integrations.twilio.backend.TwilioSms",
}
# "local": bookings live only here (sync_status not_required) until Cal.com is configured.
CALENDAR_BACKEND = env_str("CALENDAR_BACKEND", "local")
# The calendar copy of appointments is a port of the bookings app (`bookings.calendar`); like
# EMAIL_BACKEND its adapter is a class imported by dotted path. CALENDAR_BACKEND is one of these
# short names or itself a dotted path.
CALENDAR_BACKENDS = {
    "local": "bookings.calendar.LocalCalendar",
    "memory": "bookings.calendar.InMemoryCalendar",
    "calcom": "integrations.calcom.backend.CalcomCalendar",
}
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = env_str("TWILIO_FROM", "")
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "")
INTEGRATION_HTTP_TIMEOUT = env_float("INTEGRATION_HTTP_TIMEOUT", 2.5)
# SMS and billing (issue 5). The public URL Twilio and Stripe call us at, as they see it (behind
# a proxy the Host we receive differs): Twilio signs it, and status callbacks are sent to it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "")

# OAuth 2.1 for MCP clients (django-oauth-toolkit; docs/architecture.md, "Signing in with
# OAuth"). The consent page sits behind the admin's login.
LOGIN_URL = "/admin/login/"
OAUTH2_PROVIDER = {
    "SCOPES_BACKEND_CLASS": "mcp_core.oauth.scopes.ServiceScopes",
    "PKCE_REQUIRED": True,
    # http stays for native clients' loopback callbacks (RFC 8252), which assistants use.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Only a SHA-256 of each access and refresh token is stored (RFC 9700 §4.14).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # the header only
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207 `iss` on the redirect
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token", "client_credentials"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "none",
        "client_secret_post",
        "client_secret_basic",
    ],
    # Assistants register themselves (RFC 7591) or name a client-id metadata document.
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "CIMD_ENABLED": True,
    "CIMD_METADATA_FETCHER": "mcp_core.oauth.cimd.MetadataFetcher",
}
# Tests only, and so not read from the environment: host names whose client-id metadata
# documents may be fetched from a loopback address, and the certificate trusted for them
# (mcp_core/oauth/cimd.py). Production keeps the toolkit's refusal of private addresses.
OAUTH_CIMD_LOOPBACK_HOSTS: list[str] = []
OAUTH_CIMD_CA_FILE: str | None = None
# Plan → Stripe price id, e.g. '{"basic": "price_1", "professional": "price_2", ...}'.
STRIPE_PRICE_IDS = env_json("STRIPE_PRICE_IDS", {})
STRIPE_CURRENCY = env_str("STRIPE_CURRENCY", "eur")
# Appointments are reminded by SMS this many hours before they start (0 turns reminders off).
SMS_REMINDER_HOURS_BEFORE = env_int("SMS_REMINDER_HOURS_BEFORE", 24)

# Call routing (routing app): the agent for numbers we do not know, agent lines per branch
# (a branch's settings.max_concurrent_calls overrides) and the handle time assumed until calls
# have been measured.
RETELL_DEFAULT_AGENT_ID = env_str("RETELL_DEFAULT_AGENT_ID", "")
ROUTING_MAX_CONCURRENT_CALLS = env_int("ROUTING_MAX_CONCURRENT_CALLS", 10)
ROUTING_DEFAULT_HANDLE_SECONDS = env_int("ROUTING_DEFAULT_HANDLE_SECONDS", 240)
# Transactional outbox (mcp_core.outbox) and Cal.com. Retries of a failed side effect wait
# base * 2^(n-1) seconds (capped, with jitter); after MCP_MAX_RETRIES retries it is dead-lettered.
MCP_RETRY_BACKOFF_BASE = env_float("MCP_RETRY_BACKOFF_BASE", 30.0)
MCP_RETRY_BACKOFF_MAX = env_float("MCP_RETRY_BACKOFF_MAX", 3600.0)
# How long one claimed delivery may take before another process may take it over.
MCP_OUTBOX_LEASE = env_int("MCP_OUTBOX_LEASE", 300)
# The beat sweep leaves a fresh message this long to its own task (or inline attempt).
MCP_OUTBOX_SWEEP_GRACE = env_int("MCP_OUTBOX_SWEEP_GRACE", 30)
# Who is e-mailed when a side effect is dead-lettered (besides the tenant's admin operators).
OPERATIONS_ALERT_EMAILS = env_list("OPERATIONS_ALERT_EMAILS", [])
# Cal.com API v2: the cal-api-version of the bookings endpoints (AskProAI reads no slots).
CALCOM_BOOKINGS_API_VERSION = env_str("CALCOM_BOOKINGS_API_VERSION", "2024-08-13")

# Federated MCP servers (docs/architecture.md, "Federation"): a health check's time limit, the
# failed checks in a row that mark an upstream unreachable, where the registration templates
# find the installed servers (npm packages' bin directory) and keep their files.
MCP_UPSTREAM_CHECK_TIMEOUT = env_int("MCP_UPSTREAM_CHECK_TIMEOUT", 15)
MCP_UPSTREAM_FAILURE_THRESHOLD = env_int("MCP_UPSTREAM_FAILURE_THRESHOLD", 3)
MCP_UPSTREAM_BIN_DIR = env_str(
    "MCP_UPSTREAM_BIN_DIR", str(BASE_DIR / ".ci" / "node" / "node_modules" / ".bin")
)
MCP_UPSTREAM_DATA_DIR = env_str("MCP_UPSTREAM_DATA_DIR", str(BASE_DIR / "var" / "mcp-upstreams"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # structlog already renders one JSON object per line.
        "json_line": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "json_console": {"class": "logging.StreamHandler", "formatter": "json_line"},
    },
    "loggers": {
        "askproai": {"handlers": ["json_console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# django-oauth-toolkit warns about http redirect URIs; loopback callbacks need them (above).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]
