"""Django settings for the access portal, read from environment variables only.

PORTAL_ENV selects the mode:

- development (the default): runs on a fresh checkout with SQLite under var/, the local Okta
  emulator on 127.0.0.1:8001, the embedded Celery broker and e-mail printed to the console.
- test: like development, with faster password hashing and quieter logs. The default under
  pytest.
- production: every setting that points at real infrastructure or contains a secret must be
  set. A missing or invalid one stops start-up with ImproperlyConfigured naming the variable.

docs/operations.md lists every variable.
"""

import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

from portal.config import (
    EMAIL_URL_EXPECTED,
    EMBEDDED_BROKER_URL,
    NETWORK_BROKER_SCHEMES,
    Config,
    broker_settings,
    cache_settings,
    database_settings,
    default_result_backend,
    email_settings,
    validate_log_level,
    validate_result_backend,
    validate_secret_key,
    validate_time_zone,
    validate_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Under pytest the mode defaults to test. pytest-django imports these settings before any
# conftest.py runs, so a conftest could not set PORTAL_ENV early enough.
PORTAL_ENV = os.environ.get("PORTAL_ENV") or ("test" if "pytest" in sys.modules else "development")
config = Config(os.environ, mode=PORTAL_ENV)
PRODUCTION = config.production

# Local state for development and tests: the SQLite database, the embedded broker's folders and
# beat's schedule file. Production keeps no state here except beat's schedule.
VAR_DIR = Path(config.optional("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
if not PRODUCTION:
    VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core ---------------------------------------------------------------------------------------

SECRET_KEY = validate_secret_key(
    config.required(
        "SECRET_KEY",
        development_default="django-insecure-development-only-key-never-use-in-production",
        expected="at least 50 random characters",
        secret=True,
    ),
    production=PRODUCTION,
)
DEBUG = config.boolean("DEBUG", default=PORTAL_ENV == "development")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG is true, which is not allowed when PORTAL_ENV=production.")

_allowed_hosts = config.required(
    "ALLOWED_HOSTS",
    development_default="127.0.0.1,localhost",
    expected="a comma-separated list of the host names the portal is served under",
)
ALLOWED_HOSTS = [host.strip() for host in _allowed_hosts.split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = config.names("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Must come before staticfiles so that runserver serves static files through whitenoise,
    # as production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "mozilla_django_oidc",
    "portal",
    "accounts",
    "access_requests",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sign-in (accounts): every view needs a signed-in user unless marked login_not_required.
    "accounts.middleware.PortalLoginRequiredMiddleware",
    "accounts.middleware.HtmxSessionRefresh",
    "accounts.middleware.SecurityHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database and cache -------------------------------------------------------------------------

DATABASES = {
    "default": database_settings(
        "DATABASE_URL",
        config.required(
            "DATABASE_URL",
            development_default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
            expected="a database URL such as postgres://USER:PASSWORD@HOST:5432/NAME",
            secret=True,
        ),
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = config.integer("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one SQLite file. WAL lets readers proceed during a write.
    # IMMEDIATE takes the write lock at BEGIN, so a busy database makes a transaction wait there
    # rather than fail half-way when it first writes. The timeout (seconds) bounds that wait.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# Workers share Okta's rate budget through the cache, so the default must be visible to every
# process: the database, not process-local memory.
_cache_url = config.raw("CACHE_URL") or config.raw("REDIS_URL")
if _cache_url:
    _cache_variable = "CACHE_URL" if config.raw("CACHE_URL") else "REDIS_URL"
    CACHES = {"default": cache_settings(_cache_variable, _cache_url)}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }

# --- Celery -------------------------------------------------------------------------------------

_broker_url = validate_url(
    "CELERY_BROKER_URL",
    config.required(
        "CELERY_BROKER_URL",
        development_default="filesystem://",
        expected="a broker URL such as redis://HOST:6379/0 or amqp://USER:PASSWORD@HOST:5672//",
        secret=True,
    ),
    schemes=NETWORK_BROKER_SCHEMES if PRODUCTION else (*NETWORK_BROKER_SCHEMES, "filesystem"),
    expected=(
        "redis://, rediss:// or amqp:// (the embedded filesystem:// broker is for development)"
        if PRODUCTION
        else "redis://, rediss://, amqp:// or filesystem://"
    ),
)
_broker = broker_settings(_broker_url, VAR_DIR)
CELERY_BROKER_URL = _broker["broker_url"]
CELERY_BROKER_TRANSPORT_OPTIONS = _broker["broker_transport_options"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
_result_backend_url = config.raw("CELERY_RESULT_BACKEND", secret=True)
if _result_backend_url:
    CELERY_RESULT_BACKEND = validate_result_backend("CELERY_RESULT_BACKEND", _result_backend_url)
else:
    CELERY_RESULT_BACKEND = default_result_backend(_broker_url, VAR_DIR)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Several portals (or test runs) can share one broker by giving each its own queue name.
CELERY_TASK_DEFAULT_QUEUE = config.optional("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Celery would otherwise replace the root logger's handlers with its own plain-text ones; the
# LOGGING setting below then covers worker and beat too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = config.optional(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {}
# Access requests: the outbox sweep recovers lost task messages and dead workers' claims.
CELERY_BEAT_SCHEDULE["sweep-okta-operations"] = {
    "task": "access_requests.sweep_operations",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["sync-okta-catalog"] = {
    "task": "access_requests.sync_catalog",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["expire-pending-requests"] = {
    "task": "access_requests.expire_pending_requests",
    "schedule": 3600.0,
}
# Access requests: grants past their end start their removal within a minute; holders are
# reminded before the end; departed users lose their access; hook events whose task message
# was lost are applied; Okta is compared with the grants.
CELERY_BEAT_SCHEDULE["expire-grants"] = {"task": "access_requests.expire_grants", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["send-grant-reminders"] = {
    "task": "access_requests.send_grant_reminders",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["offboard-departed-users"] = {
    "task": "access_requests.offboard_departed_users",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["apply-stale-hook-events"] = {
    "task": "access_requests.apply_stale_hook_events",
    "schedule": 60.0,
}
PORTAL_RECONCILE_INTERVAL_SECONDS = config.integer(
    "PORTAL_RECONCILE_INTERVAL_SECONDS", default=3600, minimum=60
)
CELERY_BEAT_SCHEDULE["reconcile-okta"] = {
    "task": "access_requests.reconcile",
    "schedule": float(PORTAL_RECONCILE_INTERVAL_SECONDS),
}
# Sign-in (accounts): the Okta user sync. Users who leave ACTIVE lose their sessions at the
# next run, so this interval bounds how long a suspended user's open session survives.
OKTA_USER_SYNC_INTERVAL_SECONDS = config.integer("OKTA_USER_SYNC_INTERVAL_SECONDS", default=900)
CELERY_BEAT_SCHEDULE["sync-okta-users"] = {
    "task": "accounts.sync_users",
    "schedule": float(OKTA_USER_SYNC_INTERVAL_SECONDS),
}
# Audit: check the hash chain daily, so that admins see a recent result on the audit pages.
CELERY_BEAT_SCHEDULE["verify-audit-chain"] = {
    "task": "audit.verify_chain",
    "schedule": 24 * 3600.0,
}
if CELERY_BROKER_URL == EMBEDDED_BROKER_URL:
    CELERY_BEAT_SCHEDULE["prune-embedded-broker"] = {
        "task": "portal.prune_processed_messages",
        "schedule": 3600.0,
    }

# --- Okta and sign-in ---------------------------------------------------------------------------

OKTA_ORG_URL = validate_url(
    "OKTA_ORG_URL",
    config.required(
        "OKTA_ORG_URL",
        development_default="http://127.0.0.1:8001",
        expected="your Okta org's base URL, such as https://example.okta.com",
    ).rstrip("/"),
    schemes=("https",) if PRODUCTION else ("http", "https"),
    expected="an https:// URL such as https://example.okta.com"
    if PRODUCTION
    else "an http:// or https:// URL",
)
OKTA_API_TOKEN = config.required(
    "OKTA_API_TOKEN",
    development_default="00demoEmulatorApiToken0000000000000000000",
    expected="an Okta API token (Security > API > Tokens in the Okta admin console)",
    secret=True,
)
OKTA_ISSUER = f"{OKTA_ORG_URL}/oauth2/default"

OIDC_RP_CLIENT_ID = config.required(
    "OIDC_RP_CLIENT_ID",
    development_default="0oaportaldemo0000001",
    expected="the client ID of the portal's OIDC web app in Okta",
)
OIDC_RP_CLIENT_SECRET = config.required(
    "OIDC_RP_CLIENT_SECRET",
    development_default="demo-portal-client-secret-change-me",
    expected="the client secret of the portal's OIDC web app in Okta",
    secret=True,
)
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{OKTA_ISSUER}/v1/authorize"
OIDC_OP_TOKEN_ENDPOINT = f"{OKTA_ISSUER}/v1/token"
OIDC_OP_USER_ENDPOINT = f"{OKTA_ISSUER}/v1/userinfo"
OIDC_OP_JWKS_ENDPOINT = f"{OKTA_ISSUER}/v1/keys"
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_RP_SCOPES = "openid profile email groups"
# The ID token is kept for Okta's logout (id_token_hint); the access token is not kept.
OIDC_STORE_ID_TOKEN = True
OIDC_OP_LOGOUT_URL_METHOD = "accounts.oidc.okta_logout_url"
# Must be one of the client's post-logout redirect URIs in Okta. Empty: the portal's own
# address for "/" as the browser reached it.
OIDC_POST_LOGOUT_REDIRECT_URI = config.optional("OIDC_POST_LOGOUT_REDIRECT_URI", "")
# Clock difference tolerated when checking the ID token's exp and iat, in seconds.
OIDC_ID_TOKEN_LEEWAY_SECONDS = config.integer("OIDC_ID_TOKEN_LEEWAY_SECONDS", default=60)
# Seconds after sign-in when the next full-page GET renews it silently with Okta
# (prompt=none), so a user removed from Okta's app assignment loses the portal within this.
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = config.integer(
    "OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", default=900
)
# Timeout of each call to Okta's token, userinfo and keys endpoints, in seconds.
OIDC_TIMEOUT = 10
OIDC_EXEMPT_URLS = ["healthz", "readyz"]

# The portal's public base URL, for links in e-mails and the default event hook endpoint.
PORTAL_URL = validate_url(
    "PORTAL_URL",
    config.required(
        "PORTAL_URL",
        development_default="http://127.0.0.1:8000",
        expected="the portal's public base URL, such as https://access.example.com",
    ),
    schemes=("https",) if PRODUCTION else ("http", "https"),
    expected="an https:// URL such as https://access.example.com"
    if PRODUCTION
    else "an http:// or https:// URL",
).rstrip("/")
# Members of this Okta group are portal admins.
PORTAL_ADMIN_GROUP = config.optional("PORTAL_ADMIN_GROUP", "Portal Admins")

# --- Access requests ----------------------------------------------------------------------------

# Pending requests without a decision expire after this many days.
PORTAL_REQUEST_EXPIRY_DAYS = config.integer("PORTAL_REQUEST_EXPIRY_DAYS", default=14, minimum=1)
# Custom end dates are the end of that day in the requester's Okta time zone, or in this one.
PORTAL_DEFAULT_TIME_ZONE = validate_time_zone(
    "PORTAL_DEFAULT_TIME_ZONE", config.optional("PORTAL_DEFAULT_TIME_ZONE", "UTC")
)
# Longest access, in days, that a grant with an end date may have. A resource's own maximum can
# only lower it, and access with no end date is a separate per-resource choice.
PORTAL_MAX_GRANT_DAYS = config.integer("PORTAL_MAX_GRANT_DAYS", default=365, minimum=1)
# Days before a grant's end on which its holder gets a reminder e-mail.
try:
    PORTAL_GRANT_REMINDER_DAYS = tuple(
        int(days) for days in config.names("PORTAL_GRANT_REMINDER_DAYS", ["7", "1"])
    )
except ValueError as error:
    raise ImproperlyConfigured(
        "PORTAL_GRANT_REMINDER_DAYS must list whole days, separated by commas, e.g. 7,1."
    ) from error
# Okta event hooks: the header Okta sends and its secret value (set the same pair on the hook
# in Okta). Without a secret the endpoint refuses every delivery.
PORTAL_EVENT_HOOK_HEADER = config.optional("PORTAL_EVENT_HOOK_HEADER", "Authorization")
# Development has a fixed secret so that `register_event_hook` works against the emulator with
# no setup; test and production have none unless it is set.
PORTAL_EVENT_HOOK_SECRET = config.raw("PORTAL_EVENT_HOOK_SECRET", secret=True) or (
    "dev-only-event-hook-secret-change-me" if PORTAL_ENV == "development" else ""
)
# First retry delay of a failed Okta change (doubled per attempt, never before Okta's reset).
PORTAL_OKTA_RETRY_BASE_SECONDS = config.integer("PORTAL_OKTA_RETRY_BASE_MS", default=2000) / 1000
# Longest wait between two attempts of a failed Okta change, in seconds.
PORTAL_OKTA_RETRY_MAX_SECONDS = config.integer(
    "PORTAL_OKTA_RETRY_MAX_SECONDS", default=600, minimum=1
)
# An Okta change in flight for longer belongs to a dead worker and is run again. Must exceed
# the Okta request timeout (30 s).
PORTAL_OKTA_CLAIM_TIMEOUT_SECONDS = config.integer(
    "PORTAL_OKTA_CLAIM_TIMEOUT_SECONDS", default=300, minimum=1
)
# The sweep re-sends a pending change's task once it has been due this long.
PORTAL_OKTA_RESEND_AFTER_SECONDS = config.integer("PORTAL_OKTA_RESEND_AFTER_SECONDS", default=60)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.oidc.OktaOIDCBackend"]
LOGIN_URL = "oidc_authentication_init"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

if PORTAL_ENV == "test":
    # Tests create users with passwords only as fixtures; a slow hash buys nothing there.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Static files -------------------------------------------------------------------------------

STATIC_URL = "/static/"
# collectstatic's target, served by whitenoise in production. Development and tests serve
# static/ directly, so they need no collected copy.
STATIC_ROOT = config.optional("STATIC_ROOT", str(BASE_DIR / "staticfiles")) if PRODUCTION else None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names need `collectstatic`, which a deploy runs. Development and
        # tests serve the files straight from static/ through whitenoise's finders instead.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = PORTAL_ENV == "development"

# --- E-mail -------------------------------------------------------------------------------------

# Production requires EMAIL_URL, so that an operator either names a mail server or opts out
# with consolemail:// or dummymail://. Development and tests print e-mail to the console.
_email_url = config.required(
    "EMAIL_URL", development_default="", expected=EMAIL_URL_EXPECTED, secret=True
)
if _email_url:
    # Sets EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and the
    # TLS/SSL flags from one URL such as smtp+tls://USER:PASSWORD@HOST:587.
    globals().update(email_settings("EMAIL_URL", _email_url))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = config.optional("DEFAULT_FROM_EMAIL", "access-portal@localhost")

# --- Security (production) ----------------------------------------------------------------------

if PRODUCTION:
    SECURE_SSL_REDIRECT = config.boolean("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe these over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    if config.boolean("SECURE_PROXY_SSL_HEADER", default=False):
        # Only safe behind a proxy that always sets or strips this header.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = config.integer("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = config.boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = config.boolean("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Submitting a domain to the browsers' HSTS preload list is hard to undo, so it stays
        # an explicit opt-in (SECURE_HSTS_PRELOAD=true) rather than a deployment-check default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Reverse proxies whose X-Forwarded-For header is believed when the portal records a client's
# IP address (portal/client_address.py). Empty: the header is ignored and REMOTE_ADDR is used.
PORTAL_TRUSTED_PROXIES = config.networks("PORTAL_TRUSTED_PROXIES")

SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: Okta's redirect back to /oidc/callback/ is a cross-site navigation that
# must carry the session cookie holding the state, nonce and PKCE verifier.
SESSION_COOKIE_SAMESITE = "Lax"
# Pages hand the CSRF token to htmx in the markup, so no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL = validate_log_level(
    "LOG_LEVEL", config.optional("LOG_LEVEL", "WARNING" if PORTAL_ENV == "test" else "INFO")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # Django attaches the request (runserver: the raw socket) and a preformatted time
            # to its request logs. Their text forms add noise without information that the
            # message lacks.
            "reserved_attrs": [*RESERVED_ATTRS, "request", "server_time"],
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers would print errors a second time, as plain text on stderr.
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}
