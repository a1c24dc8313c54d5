"""Settings for the contact center backend, all read from the environment (django-environ).

Every variable is listed with a comment in `.env.example`. With `DEBUG` on and nothing else set the product runs on an
embedded default: SQLite, Celery tasks in-process and console backends for SMS and WhatsApp. With `DEBUG` off every
required variable must be set; `validate_production_settings` names the ones missing.
"""

import hashlib
import logging
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from contactcenter.common.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
CI = env.bool("CI", default=False)

_missing: list[str] = []


def _required(name: str, dev_default: str) -> str:
    """A variable that production must set; development falls back to `dev_default`."""
    value = env.str(name, default="")
    if value:
        return value
    if not DEBUG:
        _missing.append(name)
    return dev_default


def _csv(name: str) -> list[str]:
    return [item.strip() for item in env.str(name, default="").split(",") if item.strip()]


SECRET_KEY = _required("SECRET_KEY", "django-insecure-development-only-key-0123456789abcdefghijklmnopqrstuvwxyz")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications -------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    # The Django admin with the back office's site (second factor, dashboard): see backoffice/apps.py.
    "backoffice.apps.BackofficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "contactcenter.common",
    "audit",
    "interactions",
    "otp",
    "webhooks",
    "accounts",
    "metrics",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "voice",
    "backoffice",
    "retention",
    "simulators",
]

MIDDLEWARE = [
    "contactcenter.common.middleware.RequestIdMiddleware",
    "contactcenter.common.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "contactcenter.common.errors.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: turns a sign-in refused by the lockout into its answer (accounts/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
WSGI_APPLICATION = "contactcenter.wsgi.application"
APPEND_SLASH = False

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

# --- Database -----------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL") if env.str("DATABASE_URL", default="") else {}}
if not DATABASES["default"]:
    if not DEBUG:
        _missing.append("DATABASE_URL")
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}
# Web and worker processes reuse their connections; health checks drop a connection the server closed.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", 3))
    # Server-side parameters: a statement's text is the same whatever its values, so psycopg prepares the ones a
    # connection runs often (after `prepare_threshold` runs) and PostgreSQL stops planning them again.
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", env.bool("DATABASE_SERVER_SIDE_BINDING", True))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery ---------------------------------------------------------------------------------------------
REDIS_HOST = env.str("REDIS_HOST", default="")
REDIS_PORT = env.int("REDIS_PORT", default=6379)
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="")
if env.str("REDIS_URL", default=""):
    REDIS_URL = env.str("REDIS_URL")
elif REDIS_HOST:
    _auth = f":{REDIS_PASSWORD}@" if REDIS_PASSWORD else ""
    REDIS_URL = f"redis://{_auth}{REDIS_HOST}:{REDIS_PORT}/0"
else:
    REDIS_URL = ""
    if not DEBUG:
        _missing.append("REDIS_URL (or REDIS_HOST)")

# The longest countdown or retry delay any task may ask for; the broker's visibility timeout must exceed it, or Redis
# would hand a delayed task to a second worker before its time (tests assert the relation).
CELERY_MAX_TASK_DELAY_SECONDS = 15 * 60
CELERY_BROKER_URL = REDIS_URL or "memory://"
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with a guard that keeps the worker alive when Redis goes away (see the module).
    CELERY_BROKER_TRANSPORT = "contactcenter.common.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=100)
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
# Celery's Django fixup closes the database connection before and after every task unless told to reuse it, and a new
# PostgreSQL connection costs more than a one-row task. Reused here (closed every this many tasks anyway); Django's
# own checks (errors, CONN_MAX_AGE, the health check) run around each task instead (contactcenter/celery.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2 * 60 * 60,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
}
# Publishing from a web request: a short timeout and two quick retries, never a hang when Redis is down. A message
# that could not be enqueued stays `queued` in the database and the sweeper enqueues it later.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
# Tests and benchmarks that run several workers side by side give each its own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# Queues by urgency (docs/operations.md "Queues and workers"): work that a person is waiting for (an OTP's SMS) is
# published to its own queue, consumed by its own worker, so it never waits behind bulk work. Every name derives from
# CELERY_QUEUE, so a test run or a benchmark that sets CELERY_QUEUE isolates all of them. A publish names an urgency
# (contactcenter.common.tasks.enqueue), never a queue; a new level is one line here and one worker (issue #22).
CELERY_QUEUE_URGENT = f"{CELERY_TASK_DEFAULT_QUEUE}-urgent"
CELERY_URGENCY_QUEUES: dict[str, str] = {"default": CELERY_TASK_DEFAULT_QUEUE, "urgent": CELERY_QUEUE_URGENT}
# Every queue is declared: a worker started without -Q (`make worker`) consumes them all; production runs one worker
# per queue (Procfile `worker` and `worker-urgent`), each started with `-Q` and scaled alone.
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in CELERY_URGENCY_QUEUES.values()]
CELERY_BEAT_SCHEDULE: dict = {}

# --- Cache (rate limits, throttles) ------------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth, i18n, static -------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Staff log into the admin with a password and a TOTP code. Can be switched off only with DEBUG on (local development).
ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=not DEBUG)
# The lockout (django-axes) first: it refuses a locked-out account or address before any password is checked. Then
# permissions and group names of a staff user in one query per request (the admin's pages count their queries).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "contactcenter.common.auth.BackofficeModelBackend"]
# Password guessing: after LOGIN_FAILURE_LIMIT failed sign-ins (a wrong password, or a right password with a missing
# or wrong second-factor code) per account, and separately per client address, /admin/login/ and /api/auth/token
# refuse that account or address for LOGIN_LOCKOUT_MINUTES; failures older than that are forgotten.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_ENABLED = env.bool("LOGIN_LOCKOUT_ENABLED", default=True)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
# A failure during a lockout does not extend it (else anyone could keep an account locked for ever).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "contactcenter.common.context.request_client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "refresh", "csrfmiddlewaretoken"]
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
CELERY_BEAT_SCHEDULE["accounts-tokens-flush"] = {
    "task": "accounts.tokens_flush",
    "schedule": crontab(hour=4, minute=7),
    "options": {"expires": 3600},
}
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Contact Center")
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise serves the admin's and Swagger's static files from the installed apps, so a Procfile deployment works
# without a collectstatic step (the Docker image runs collectstatic anyway).
WHITENOISE_USE_FINDERS = True
# WhiteNoise warns about a missing STATIC_ROOT (the finders serve the files), from wherever its caller's frame is.
warnings.filterwarnings("ignore", message="No directory at")
# Post-call audio arrives as one JSON body with base64 MP3 inside; allow it, and nothing larger.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=50 * 1024 * 1024)

# --- Security -----------------------------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
TRUST_PROXY_HEADERS = env.bool("TRUST_PROXY_HEADERS", default=False)
# How many proxies in front of us append to X-Forwarded-For: the client is that many addresses from the right
# (contactcenter/common/context.py). 0 (the default without TRUST_PROXY_HEADERS): the header is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if TRUST_PROXY_HEADERS else 0)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on every answer: scripts, styles, images and fetches from our own origin only
# (the admin and Swagger UI serve their assets themselves), inline styles allowed (the back office's pages carry a few
# <style> blocks), no inline script, no plugin, never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SILENCED_SYSTEM_CHECKS = env.list(
    "SILENCED_SYSTEM_CHECKS", default=["security.W021"] if not SECURE_HSTS_PRELOAD else []
)

# --- REST framework and OpenAPI -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT first: its `WWW-Authenticate: Bearer` header is the one a 401 carries (accounts/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JwtAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Scoped throttles on the cache (Redis): views set `throttle_scope`; a view without one is not throttled.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ResilientScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "otp": env.str("THROTTLE_RATE_OTP", default="60/min"),
        "reads": env.str("THROTTLE_RATE_READS", default="600/min"),
        "writes": env.str("THROTTLE_RATE_WRITES", default="120/min"),
        "auth": env.str("THROTTLE_RATE_AUTH", default="20/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing with a 400 bodies nested too deep or holding what PostgreSQL cannot store.
    "DEFAULT_PARSER_CLASSES": ["contactcenter.common.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# The handler class maps the domain errors in (contactcenter/common/errors.py); the handler function stays the library's
# so that drf-spectacular documents the error responses of every endpoint.
DRF_STANDARDIZED_ERRORS = {
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "EXCEPTION_HANDLER_CLASS": "contactcenter.common.errors.ContactCenterExceptionHandler",
}
# Every API key expires: at most this many days after it is issued (the default expiry too).
API_KEY_MAX_DAYS = env.int("API_KEY_MAX_DAYS", default=365)
# The admin's messages (a new API key is shown in one) live in the session, never in a cookie of their own.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# The admin's session ends when the browser closes, and within ADMIN_SESSION_HOURS of signing in anyway.
ADMIN_SESSION_HOURS = env.int("ADMIN_SESSION_HOURS", default=8)
SESSION_COOKIE_AGE = ADMIN_SESSION_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Console users' JWTs (POST /api/auth/token); signed with SECRET_KEY unless JWT_SIGNING_KEY is set.
# Refresh tokens rotate: each works once (blacklisted on use, simplejwt's blacklist app) and a session lasts at most
# JWT_REFRESH_TOKEN_HOURS from sign-in (rotation does not extend it). accounts/tokens.py adds the account's token
# generation, which a password change, a deactivation or a removed second-factor device bumps.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env.int("JWT_REFRESH_TOKEN_HOURS", default=12)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Contact Center API",
    "DESCRIPTION": "Back office and API of the bank's contact center: interactions across voice, WhatsApp and SMS, "
    "one-time passcodes, and the provider webhooks that feed them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from the sidecar package, served by the product (WhiteNoise): no CDN, no `@latest`.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "InteractionStatusEnum": "interactions.models.InteractionStatus.choices",
        "MessageStatusEnum": "interactions.models.MessageStatus.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "contactcenter.common.openapi.postprocess_schema",
    ],
}

# --- Providers ----------------------------------------------------------------------------------------------------
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

ELEVENLABS_PROVIDER_NAME = env.str("ELEVENLABS_PROVIDER_NAME", default="elevenlabs")
ELEVENLABS_WEBHOOK_TOKENS = _csv("ELEVENLABS_WEBHOOK_TOKEN")
ELEVENLABS_WEBHOOK_SECRETS = _csv("ELEVENLABS_WEBHOOK_SECRET")
ELEVENLABS_API_KEY = env.str("ELEVENLABS_API_KEY", default="")
ELEVENLABS_API_BASE_URL = env.str("ELEVENLABS_API_BASE_URL", default="https://api.elevenlabs.io").rstrip("/")
ELEVENLABS_SIGNATURE_MODE = env.str("ELEVENLABS_SIGNATURE_MODE", default="enforce")
# Voice agent tools (server tools and the conversation initiation webhook). A dedicated token for them, accepted
# besides ELEVENLABS_WEBHOOK_TOKEN; the OTP purpose of codes sent during a call; whether a number the caller speaks may
# receive the code (off: only the number the call comes from); how long a repeated "send" of the same conversation
# returns the code already sent instead of sending another; whether the initiation webhook tells the agent anything
# about the caller (off: every variable at its empty value).
ELEVENLABS_TOOL_TOKENS = _csv("ELEVENLABS_TOOL_TOKEN")
VOICE_OTP_PURPOSE = env.str("VOICE_OTP_PURPOSE", default="identity")
VOICE_OTP_ALLOW_SPOKEN_NUMBER = env.bool("VOICE_OTP_ALLOW_SPOKEN_NUMBER", default=False)
VOICE_OTP_RESEND_WINDOW_SECONDS = env.int("VOICE_OTP_RESEND_WINDOW_SECONDS", default=60)
VOICE_INITIATION_SHARE_CONTEXT = env.bool("VOICE_INITIATION_SHARE_CONTEXT", default=True)
# Deliveries stored but never applied (the database or the process went away in between, and the provider did not
# retry) are applied by a sweep this often, once older than the given age (a provider's own retry usually comes first).
WEBHOOK_EVENTS_SWEEP_INTERVAL_SECONDS = env.int("WEBHOOK_EVENTS_SWEEP_INTERVAL_SECONDS", default=60)
WEBHOOK_EVENTS_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_EVENTS_SWEEP_AFTER_SECONDS", default=120)
# Delivery counters are added up in each process and written to Redis at most this often (0: at every delivery).
WEBHOOK_COUNTERS_FLUSH_SECONDS = env.float("WEBHOOK_COUNTERS_FLUSH_SECONDS", default=1.0)
WEBHOOK_EVENTS_SWEEP_BATCH_SIZE = env.int("WEBHOOK_EVENTS_SWEEP_BATCH_SIZE", default=200)
# The metrics roll-up's deltas (appended by triggers on every counted change) are folded into its counts this often;
# reads add the pending ones, so a slower fold costs reads a little, never exactness (docs/operations.md).
METRICS_ROLLUP_FOLD_INTERVAL_SECONDS = env.int("METRICS_ROLLUP_FOLD_INTERVAL_SECONDS", default=10)
CELERY_BEAT_SCHEDULE["metrics-rollup-fold"] = {
    "task": "metrics.rollup_fold",
    "schedule": timedelta(seconds=METRICS_ROLLUP_FOLD_INTERVAL_SECONDS),
    "options": {"expires": METRICS_ROLLUP_FOLD_INTERVAL_SECONDS},
}
CELERY_BEAT_SCHEDULE["webhook-events-sweep"] = {
    "task": "webhooks.events_sweep",
    "schedule": timedelta(seconds=WEBHOOK_EVENTS_SWEEP_INTERVAL_SECONDS),
    "options": {"expires": WEBHOOK_EVENTS_SWEEP_INTERVAL_SECONDS},
}
# Calls whose post-call webhook never came are fetched from the conversations API this often (needs ELEVENLABS_API_KEY).
CALLS_RECONCILE_INTERVAL_SECONDS = env.int("CALLS_RECONCILE_INTERVAL_SECONDS", default=15 * 60)
CELERY_BEAT_SCHEDULE["calls-reconcile"] = {
    "task": "webhooks.calls_reconcile",
    "schedule": timedelta(seconds=CALLS_RECONCILE_INTERVAL_SECONDS),
    "options": {"expires": CALLS_RECONCILE_INTERVAL_SECONDS},
}

BUILDERBOT_WEBHOOK_TOKENS = _csv("BUILDERBOT_WEBHOOK_TOKEN")
BUILDERBOT_API_URL = env.str("BUILDERBOT_API_URL", default="https://app.builderbot.cloud").rstrip("/")
BUILDERBOT_API_KEY = env.str("BUILDERBOT_API_KEY", default="")
BUILDERBOT_PROJECT_ID = env.str("BUILDERBOT_PROJECT_ID", default="")
BUILDERBOT_DUPLICATE_WINDOW_SECONDS = env.int("BUILDERBOT_DUPLICATE_WINDOW_SECONDS", default=30)

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="").rstrip("/")
TWILIO_WEBHOOK_TOKENS = _csv("TWILIO_WEBHOOK_TOKEN")
TWILIO_SIGNATURE_MODE = env.str("TWILIO_SIGNATURE_MODE", default="enforce")

# Which backend delivers each channel: `auto` picks the provider when its credentials are set, else the console
# backend (development only); `console` forces the console backend.
SMS_BACKEND = env.str("SMS_BACKEND", default="auto")
WHATSAPP_BACKEND = env.str("WHATSAPP_BACKEND", default="auto")

# --- Outbound messaging (delivery, retries, sweeper, reconciler) --------------------------------------------------
MESSAGE_SEND_TIMEOUT_SECONDS = env.float("MESSAGE_SEND_TIMEOUT_SECONDS", default=10.0)
MESSAGE_MAX_SEND_ATTEMPTS = env.int("MESSAGE_MAX_SEND_ATTEMPTS", default=8)
MESSAGE_RETRY_BASE_DELAY_SECONDS = env.float("MESSAGE_RETRY_BASE_DELAY_SECONDS", default=5.0)
MESSAGE_RETRY_MAX_DELAY_SECONDS = min(
    env.int("MESSAGE_RETRY_MAX_DELAY_SECONDS", default=600), CELERY_MAX_TASK_DELAY_SECONDS
)
MESSAGE_UNCERTAIN_RECHECK_SECONDS = env.int("MESSAGE_UNCERTAIN_RECHECK_SECONDS", default=30)
# A one-time code not handed to the provider within this age is not sent at all (default: the OTP lifetime).
MESSAGE_SENSITIVE_MAX_AGE_SECONDS = env.int(
    "MESSAGE_SENSITIVE_MAX_AGE_SECONDS", default=env.int("OTP_TTL_SECONDS", default=300)
)
MESSAGE_SWEEP_QUEUED_AFTER_SECONDS = env.int("MESSAGE_SWEEP_QUEUED_AFTER_SECONDS", default=60)
# Above the task's hard time limit, so no live attempt can still be running when the sweeper recovers a `sending` row.
MESSAGE_SENDING_TIMEOUT_SECONDS = max(
    env.int("MESSAGE_SENDING_TIMEOUT_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60), CELERY_TASK_TIME_LIMIT + 1
)
MESSAGE_SWEEP_BATCH_SIZE = env.int("MESSAGE_SWEEP_BATCH_SIZE", default=500)
# The urgency (a key of CELERY_URGENCY_QUEUES) of a message's delivery, by the message's purpose; any other purpose
# (bulk notices, agents' replies) is `default`. A one-time code is urgent: the customer is waiting for it.
MESSAGE_URGENCY_BY_PURPOSE: dict[str, str] = {"otp": "urgent"}
MESSAGE_SWEEP_INTERVAL_SECONDS = env.int("MESSAGE_SWEEP_INTERVAL_SECONDS", default=60)
SMS_RECONCILE_OLDER_THAN_SECONDS = env.int("SMS_RECONCILE_OLDER_THAN_SECONDS", default=15 * 60)
SMS_RECONCILE_MAX_AGE_SECONDS = env.int("SMS_RECONCILE_MAX_AGE_SECONDS", default=3 * 24 * 60 * 60)
SMS_RECONCILE_BATCH_SIZE = env.int("SMS_RECONCILE_BATCH_SIZE", default=100)
SMS_RECONCILE_INTERVAL_SECONDS = env.int("SMS_RECONCILE_INTERVAL_SECONDS", default=5 * 60)
CELERY_BEAT_SCHEDULE["messages-sweep"] = {
    "task": "interactions.messages_sweep",
    "schedule": timedelta(seconds=MESSAGE_SWEEP_INTERVAL_SECONDS),
    "options": {"expires": MESSAGE_SWEEP_INTERVAL_SECONDS},
}
CELERY_BEAT_SCHEDULE["sms-reconcile"] = {
    "task": "interactions.sms_reconcile",
    "schedule": timedelta(seconds=SMS_RECONCILE_INTERVAL_SECONDS),
    "options": {"expires": SMS_RECONCILE_INTERVAL_SECONDS},
}

# --- OTP and PII --------------------------------------------------------------------------------------------------
OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=300)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
OTP_RATE_LIMIT_WINDOW_SECONDS = env.int("OTP_RATE_LIMIT_WINDOW_SECONDS", default=900)
OTP_RATE_LIMIT_MAX = env.int("OTP_RATE_LIMIT_MAX", default=3)
# Per phone, every purpose together, within the same window (0: off): purposes are free slugs.
OTP_PHONE_RATE_LIMIT_MAX = env.int("OTP_PHONE_RATE_LIMIT_MAX", default=5)
OTP_CODE_LENGTH = env.int("OTP_CODE_LENGTH", default=6)
OTP_MIN_INTERVAL_SECONDS = env.int("OTP_MIN_INTERVAL_SECONDS", default=0)
OTP_ALLOWED_COUNTRIES = _csv("OTP_ALLOWED_COUNTRIES")
OTP_HASH_KEY = env.str("OTP_HASH_KEY", default="") or hashlib.sha256(f"otp:{SECRET_KEY}".encode()).hexdigest()
# Per API client (key or user): at most _MAX challenges per _WINDOW_SECONDS (0: off).
OTP_CLIENT_RATE_LIMIT_MAX = env.int("OTP_CLIENT_RATE_LIMIT_MAX", default=1000)
OTP_CLIENT_RATE_LIMIT_WINDOW_SECONDS = env.int("OTP_CLIENT_RATE_LIMIT_WINDOW_SECONDS", default=3600)
# Unset: any purpose slug (lowercase letters, digits, `_`, `-`, `.`, up to 32 characters), as the earlier backend took;
# set (comma-separated): an allow-list.
OTP_PURPOSES = _csv("OTP_PURPOSES")
# Per API client (key or user): at most _MAX verifications per OTP_CLIENT_RATE_LIMIT_WINDOW_SECONDS (0: off).
OTP_CLIENT_VERIFY_RATE_LIMIT_MAX = env.int("OTP_CLIENT_VERIFY_RATE_LIMIT_MAX", default=3000)
OTP_DEFAULT_LANGUAGE = env.str("OTP_DEFAULT_LANGUAGE", default="es")
OTP_IDEMPOTENCY_TTL_SECONDS = env.int("OTP_IDEMPOTENCY_TTL_SECONDS", default=24 * 3600)
# SMS text per purpose ("default" for the rest) and language; {code} and {minutes} are filled in.
OTP_SMS_TEMPLATES = {
    "default": {
        "en": "{code} is your verification code. It expires in {minutes} min. Do not share it with anyone: "
        "the bank will never ask you for it.",
        "es": "{code} es tu código de verificación. Vence en {minutes} min. No lo compartas con nadie: "
        "el banco nunca te lo pedirá.",
    },
    "transaction": {
        "en": "{code} is your code to confirm a transaction. It expires in {minutes} min. Do not share it with anyone, "
        "not even the bank.",
        "es": "{code} es tu código para confirmar una operación. Vence en {minutes} min. No lo compartas con nadie, "
        "ni con el banco.",
    },
}
CELERY_BEAT_SCHEDULE["otp-challenges-expire"] = {
    "task": "otp.challenges_expire",
    "schedule": timedelta(minutes=5),
    "options": {"expires": 300},
}

PII_MASKING_ENABLED = env.bool("PII_MASKING_ENABLED", default=True)
# The most rows one admin CSV export holds; a larger selection is cut to the newest rows, and the user told first.
EXPORT_MAX_ROWS = env.int("EXPORT_MAX_ROWS", default=50000)
# Keyed hash of phone numbers, kept for matching after a number is redacted.
PII_HASH_KEY = env.str("PII_HASH_KEY", default="") or hashlib.sha256(f"pii:{SECRET_KEY}".encode()).hexdigest()

# --- Audit trail and database roles (docs/operations.md "Audit trail", "Database roles") --------------------------------------
# Key of the audit records' hash chain (HMAC-SHA256, audit/chain.py); the database never holds it. Set it explicitly in
# production: derived from SECRET_KEY otherwise, and a new SECRET_KEY would make every existing record fail audit_verify.
AUDIT_CHAIN_KEY = (
    env.str("AUDIT_CHAIN_KEY", default="") or hashlib.sha256(f"audit-chain:{SECRET_KEY}".encode()).hexdigest()
)
# The schema owner's URL: `migrate` and `setup_database_roles` connect with it, web, worker and beat with DATABASE_URL,
# a role that may only insert and read audit records. Empty: one role does everything (make run, small installs;
# warned by `check --deploy`, audit.W001).
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
# The daily walk of the audit chain (`audit_verify`), at this hour (TIME_ZONE).
CELERY_BEAT_SCHEDULE["audit-verify-daily"] = {
    "task": "audit.verify",
    "schedule": crontab(hour=env.int("AUDIT_VERIFY_HOUR", default=4), minute=41),
    "options": {"expires": 6 * 3600},
}

# --- Data retention (docs/retention.md) --------------------------------------------------------------------
# Days after which each kind of data is redacted or deleted, per channel ("all": not tied to a channel). Each value is
# overridden by RETENTION_<CHANNEL>_<KIND>_<REDACT|DELETE>_DAYS (without <CHANNEL>_ for "all"), e.g.
# RETENTION_CALL_RECORDINGS_REDACT_DAYS=30; `never` switches a rule off. Checked at start (retention.E001).
_RETENTION_DEFAULTS = {
    "call": {
        "phone_numbers": {"redact": 365},
        "transcripts": {"redact": 180},
        "recordings": {"redact": 90},
        "interactions": {"delete": 1825},
    },
    "whatsapp": {"phone_numbers": {"redact": 365}, "message_bodies": {"redact": 180}, "interactions": {"delete": 1825}},
    "sms": {"phone_numbers": {"redact": 365}, "message_bodies": {"redact": 30}, "interactions": {"delete": 1825}},
    "all": {
        "raw_events": {"redact": 30, "delete": 90},
        "otp_challenges": {"redact": 30, "delete": 90},
        "audit_records": {"delete": 3650},
    },
}


def _retention_days(name: str, default: int) -> int | None:
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw == "never":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number of days or 'never', got {raw!r}") from None


def _retention_policy() -> dict:
    return {
        channel: {
            kind: {
                f"{action}_after_days": _retention_days(
                    "_".join(["RETENTION", *([channel] if channel != "all" else []), kind, action, "days"]).upper(),
                    days,
                )
                for action, days in actions.items()
            }
            for kind, actions in kinds.items()
        }
        for channel, kinds in _RETENTION_DEFAULTS.items()
    }


RETENTION_POLICY = _retention_policy()
# Rows per transaction (at most 1000), how long a batch waits for a row lock before giving up (it never makes webhook
# ingestion wait longer), and how long one task works before it hands the rest to a fresh task (below the soft limit).
RETENTION_BATCH_SIZE = min(env.int("RETENTION_BATCH_SIZE", default=1000), 1000)
RETENTION_LOCK_TIMEOUT_MS = env.int("RETENTION_LOCK_TIMEOUT_MS", default=2000)
# A pause after each batch: the run gives the CPU and the disk back to webhook ingestion in between (0: none).
RETENTION_BATCH_PAUSE_MS = env.int("RETENTION_BATCH_PAUSE_MS", default=0)
RETENTION_TASK_MAX_SECONDS = min(
    env.int("RETENTION_TASK_MAX_SECONDS", default=80), max(CELERY_TASK_SOFT_TIME_LIMIT - 20, 10)
)
CELERY_BEAT_SCHEDULE["retention-apply-daily"] = {
    "task": "retention.apply",
    "schedule": crontab(hour=env.int("RETENTION_RUN_HOUR", default=3), minute=17),
    "options": {"expires": 3600},
}

# --- Benchmarks ---------------------------------------------------------------------------------------------------
# Mounts /bench/ceiling (a POST that inserts one row, the ceiling of the webhook benchmarks). Never on in production.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)

# --- Logging ------------------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Python warnings become log records too (logger `py.warnings`): every line goes through the scrub filter, as JSON.
logging.captureWarnings(True)
LOGGING = logging_config(
    level=LOG_LEVEL,
    loggers={
        "django.server": {"level": "WARNING"},
        # One line per request comes from our own middleware; Django's duplicates are silenced.
        "django.request": {"level": "ERROR"},
        "celery": {"level": "INFO"},
    },
)


def validate_production_settings() -> None:
    """In production, one clear error naming every variable that is missing or half-configured."""
    if DEBUG:
        return
    problems = list(_missing)
    if not (ELEVENLABS_WEBHOOK_TOKENS or ELEVENLABS_WEBHOOK_SECRETS):
        problems.append("ELEVENLABS_WEBHOOK_TOKEN (or ELEVENLABS_WEBHOOK_SECRET)")
    if not BUILDERBOT_WEBHOOK_TOKENS:
        problems.append("BUILDERBOT_WEBHOOK_TOKEN")
    if not (TWILIO_WEBHOOK_TOKENS or TWILIO_AUTH_TOKEN):
        problems.append("TWILIO_WEBHOOK_TOKEN (or TWILIO_AUTH_TOKEN for signatures)")
    if SMS_BACKEND != "console":
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not globals()[name]:
                problems.append(name)
        if not (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID):
            problems.append("TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID)")
    if WHATSAPP_BACKEND != "console":
        for name in ("BUILDERBOT_API_KEY", "BUILDERBOT_PROJECT_ID"):
            if not globals()[name]:
                problems.append(name)
    for name, value in (
        ("ELEVENLABS_SIGNATURE_MODE", ELEVENLABS_SIGNATURE_MODE),
        ("TWILIO_SIGNATURE_MODE", TWILIO_SIGNATURE_MODE),
    ):
        if value not in ("enforce", "log_only"):
            problems.append(f"{name} (must be 'enforce' or 'log_only', got {value!r})")
    if problems:
        raise ImproperlyConfigured(
            "Production settings (DEBUG is off) are missing or half-configured: " + ", ".join(problems) + ". "
            "Set them in the environment (see .env.example), or set DEBUG=true for local development."
        )


validate_production_settings()
