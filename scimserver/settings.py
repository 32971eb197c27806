"""Settings, read from the environment (twelve-factor); the README's table lists every variable.

`make run` and `make test` set `DATABASE_URL` and `SECRET_KEY` themselves when they are not
given. App settings live under the `SCIM` namespace and are read lazily by
`provisioning.app_settings`.
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """Return SECRET_KEY, or the content of the file SECRET_KEY_FILE names (the container's,
    made by its `migrate` step)."""
    if "SECRET_KEY" in os.environ:
        return os.environ["SECRET_KEY"]
    if "SECRET_KEY_FILE" in os.environ:
        try:
            return Path(os.environ["SECRET_KEY_FILE"]).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"SECRET_KEY_FILE cannot be read: {exc}") from None
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. `make run` and `make test` set one; elsewhere set it (or "
        "SECRET_KEY_FILE) in the environment."
    )


SECRET_KEY = _secret_key()

if "DATABASE_URL" not in os.environ:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run` and `make test` start a local PostgreSQL and set "
        "it; elsewhere set it, e.g. postgresql://user:password@host:5432/dbname."
    )

DEBUG = _env_bool("DEBUG", False)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")
BEHIND_PROXY = _env_bool("BEHIND_PROXY", False)
# Behind a TLS-terminating proxy, honour its X-Forwarded-Proto so meta.location says https.
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# The admin's session and CSRF cookies travel over TLS only: on by default behind a TLS proxy.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", BEHIND_PROXY)
# Plain-HTTP requests are redirected to https (the proxy's X-Forwarded-Proto says which
# requests came over TLS), and browsers told to use https only (HSTS) for this many seconds.
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    # First, so that its templates override the admin's (the site's head: favicon, styles).
    "provisioning",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
]

MIDDLEWARE = [
    "provisioning.middleware.OperationsMiddleware",
    "provisioning.middleware.RequestLogMiddleware",
    "provisioning.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "provisioning.middleware.SCIMRouteMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in with its lockout page.
    "axes.middleware.AxesMiddleware",
]

# Admin sign-in is guarded against password guessing by django-axes: after
# ADMIN_LOGIN_FAILURE_LIMIT failed sign-ins from one address, or for one username, further
# attempts are refused for ADMIN_LOGIN_COOLOFF_MINUTES. The address is the one change records
# name (behind a proxy, the last one in X-Forwarded-For).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("ADMIN_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "provisioning.context.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

ROOT_URLCONF = "scimserver.urls"
# SCIM paths have no trailing slash; never redirect a POST or PATCH to add one.
APPEND_SLASH = False

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

WSGI_APPLICATION = "scimserver.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "600")),
        # No per-request `SELECT 1`: the token check, every SCIM request's first statement,
        # reconnects once when it finds the connection dropped (provisioning.tokens).
        conn_health_checks=False,
    )
}
# Parameters travel apart from the SQL text, so psycopg can prepare the statements a
# connection runs again and again (a token check, a lookup): PostgreSQL then parses and plans
# them once per connection. Behind PgBouncer in transaction mode before 1.21, set
# DATABASE_PREPARED_STATEMENTS=false: prepared statements do not survive its connection swaps.
DATABASES["default"].setdefault("OPTIONS", {}).update(
    server_side_binding=True,
    prepare_threshold=2 if _env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
    # A database host that does not answer fails a connection attempt after this long (a 503
    # for a SCIM request, /health/ready says not ready) instead of the TCP timeout's minutes.
    connect_timeout=int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Dates in the admin as 2026-12-01 14:36:42 UTC: every time says its time zone.
FORMAT_MODULE_PATH = ["scimserver.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / ".local" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# App settings; see provisioning/app_settings.py for each key and its default.
SCIM = {
    "MAX_RESULTS": int(os.environ.get("SCIM_MAX_RESULTS", "1000")),
    "DEFAULT_COUNT": int(os.environ.get("SCIM_DEFAULT_COUNT", "100")),
    "MAX_PAYLOAD_BYTES": int(os.environ.get("SCIM_MAX_PAYLOAD_BYTES", str(10 * 1024 * 1024))),
    "BULK_MAX_OPERATIONS": int(os.environ.get("SCIM_BULK_MAX_OPERATIONS", "1000")),
    "BULK_MAX_PAYLOAD_BYTES": int(os.environ.get("SCIM_BULK_MAX_PAYLOAD_BYTES", str(1024 * 1024))),
    "AUDIT_RETENTION_DAYS": int(os.environ.get("SCIM_AUDIT_RETENTION_DAYS", "365")),
    "TRUST_X_FORWARDED_FOR": _env_bool("BEHIND_PROXY", False),
    "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("SCIM_WEBHOOK_TIMEOUT_SECONDS", "10")),
    "WEBHOOK_BACKOFF_SECONDS": float(os.environ.get("SCIM_WEBHOOK_BACKOFF_SECONDS", "5")),
    "WEBHOOK_MAX_BACKOFF_SECONDS": float(os.environ.get("SCIM_WEBHOOK_MAX_BACKOFF_SECONDS", "600")),
    "WEBHOOK_RETRY_FOR_SECONDS": float(os.environ.get("SCIM_WEBHOOK_RETRY_FOR_SECONDS", "86400")),
    "SYNC_AUTH_USERS": _env_bool("SCIM_SYNC_AUTH_USERS", False),
    "SYNC_AUTH_GROUPS": _env_bool("SCIM_SYNC_AUTH_GROUPS", False),
}

# Operations (provisioning/health.py, provisioning/metrics.py): /health/ready's longest wait
# for the database, and the bearer token that /metrics asks for (unset: /metrics is off).
READY_TIMEOUT_SECONDS = float(os.environ.get("READY_TIMEOUT_SECONDS", "2"))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# LOG_FORMAT=json: one JSON object per line (provisioning/logs.py), the request line's fields
# as keys; else the plain text line.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "provisioning.logs.JSONFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines come from provisioning.middleware; Django's own would repeat them.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # django-axes logs every successful sign-in at INFO; failures and lockouts are warnings.
        "axes": {"level": "WARNING"},
    },
}
