"""Django settings for Slipway.

Configuration is 12-factor: environment variables only, with safe local
defaults (SQLite under var/, in-memory channel layer, in-process deploy
runner). Setting REDIS_URL switches the channel layer and deploy execution
to Redis and Celery.
"""

import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from dashboard.database_settings import default_database

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SLIPWAY_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Production mode: a shared database or Redis means several processes, maybe on several hosts.
REDIS_URL = os.environ.get("REDIS_URL", "")  # the channel layer and deployments (below)
PRODUCTION = bool(os.environ.get("DATABASE_URL") or REDIS_URL)


def secret_key() -> str:
    """SECRET_KEY; only a local setup may keep a random one in var/, made private from the
    start (in production each host would make its own, and sessions break across hosts)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. DATABASE_URL or REDIS_URL is, so this is a production "
            "setup, where every web process and worker needs the same key: set SECRET_KEY "
            "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    path = VAR_DIR / "secret-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Behind a TLS proxy (docs/deploying-behind-nginx.md sets X-Forwarded-Proto): secure cookies,
# HSTS and a redirect to https — except /healthz, which load balancers ask over plain http.
if env_bool("SLIPWAY_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SLIPWAY_HSTS_SECONDS", 365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "axes",
    "pipelines",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# A web server answers each request on a thread of its own (ASGI), where a connection kept for
# the next request (CONN_MAX_AGE) is never used again: every view paid for a new connection,
# and the old ones stayed open until collected (the board through daphne: p50 39 ms, and 30
# connections held after 80 views 8 at a time; pooled, 29 ms and 8). A web process takes its
# connections from a pool of SLIPWAY_DB_POOL_SIZE (0: none). Not a worker, beat or a command,
# whose threads keep a connection for a whole deployment and where Celery closes a pool after
# every task; nor a web process that runs deployments itself (no REDIS_URL), for the same
# reason (docs/architecture.md, "Reading at scale").
SERVES_WEB = "dashboard.asgi" in sys.modules  # these settings load as the web server starts
SLIPWAY_DB_POOL_SIZE = int(os.environ.get("SLIPWAY_DB_POOL_SIZE", 8))
DATABASES = {
    "default": default_database(
        var_dir=VAR_DIR,
        prepared_statements=env_bool("SLIPWAY_DB_PREPARED_STATEMENTS", True),
        pool_size=SLIPWAY_DB_POOL_SIZE if SERVES_WEB and REDIS_URL else 0,
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Throttled logins (django-axes; docs/security.md): after AXES_FAILURE_LIMIT failures for a
# username or from an address, logins are refused — the right password included — for
# AXES_COOLOFF_TIME. Failed API tokens count against the same limits (pipelines/api/auth.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SLIPWAY_LOGIN_FAILURE_LIMIT", 10))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SLIPWAY_LOGIN_COOLOFF_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
if env_bool("SLIPWAY_FAST_PASSWORD_HASHING", False):
    # Tests only (set by tests/conftest.py): real hashing makes each test user cost ~0.3 s.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

# Content Security Policy (Django 6): no inline scripts except with the nonce.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
}

# --- Redis: channel layer and deploy execution -----------------------------


def redis_channel_layers(url: str) -> dict:
    """channels-redis at `url`, its pub/sub layer: a message is one PUBLISH, read once per
    web process (the core layer read each one four times over, BZPOPMIN then the message
    sent back and forth to a backup set). RESP2: redis-py 8's RESP3 parser formats every
    pushed message for a debug log. Reads wait 15 s, not redis-py's 5 s (a read cut short
    killed an idle consumer). docs/architecture.md, "Live updates"; every process of a
    deployment (web, workers) must use this same layer."""
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": url, "socket_timeout": 15, "protocol": 2}],
            },
        }
    }


if REDIS_URL:
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
if REDIS_URL:  # one count of failed API tokens for all web processes (pipelines/api/auth.py)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }

# Celery: only used when REDIS_URL is set (docs/architecture.md, "Embedded and production
# mode", says why each setting).
SLIPWAY_MAX_DEPLOY_SECONDS = int(os.environ.get("SLIPWAY_MAX_DEPLOY_SECONDS", 3600))
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A Redis restart must not kill the deployments running (docs/operations.md): a message
# delivered again after it finds its deployment claimed already, and does nothing.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * SLIPWAY_MAX_DEPLOY_SECONDS}
# Queue names: `make worker` and the Procfile consume "deploys,celery"; tests use their own.
SLIPWAY_DEPLOY_QUEUE = os.environ.get("SLIPWAY_DEPLOY_QUEUE", "deploys")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SLIPWAY_DEFAULT_QUEUE", "celery")
CELERY_TASK_ROUTES = {"pipelines.run_deployment": {"queue": SLIPWAY_DEPLOY_QUEUE}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Deploy runner (pipelines/runner); tests shorten these to seconds ---------


def env_seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


SLIPWAY_HEARTBEAT_SECONDS = env_seconds("SLIPWAY_HEARTBEAT_SECONDS", 5)
# A running deployment whose heartbeat is older than this is marked interrupted.
SLIPWAY_STALE_AFTER_SECONDS = env_seconds("SLIPWAY_STALE_AFTER_SECONDS", 60)
SLIPWAY_REAPER_INTERVAL_SECONDS = env_seconds("SLIPWAY_REAPER_INTERVAL_SECONDS", 30)
SLIPWAY_STEP_TIMEOUT_SECONDS = env_seconds("SLIPWAY_STEP_TIMEOUT_SECONDS", 900)
SLIPWAY_CANCEL_GRACE_SECONDS = env_seconds("SLIPWAY_CANCEL_GRACE_SECONDS", 10)
SLIPWAY_HEALTH_TIMEOUT_SECONDS = env_seconds("SLIPWAY_HEALTH_TIMEOUT_SECONDS", 60)
SLIPWAY_POLL_SECONDS = env_seconds("SLIPWAY_POLL_SECONDS", 0.5)  # health, Heroku, cancel
SLIPWAY_LOG_FLUSH_SECONDS = env_seconds("SLIPWAY_LOG_FLUSH_SECONDS", 0.075)
SLIPWAY_LOG_MAX_LINES = int(os.environ.get("SLIPWAY_LOG_MAX_LINES", 1_000_000))
# How long the runner retries storing its log, steps and outcome while the database is away.
SLIPWAY_DB_RETRY_SECONDS = env_seconds("SLIPWAY_DB_RETRY_SECONDS", 30)
SLIPWAY_MAX_UNPACKED_BYTES = int(os.environ.get("SLIPWAY_MAX_UNPACKED_BYTES", 8 * 1024**3))
# How often an open WebSocket re-checks that its user is still signed in and holds a role.
SLIPWAY_SOCKET_ACCESS_SECONDS = float(os.environ.get("SLIPWAY_SOCKET_ACCESS_SECONDS", 3))
# How far a WebSocket may fall behind (bytes the server holds for it) before it is closed and
# its client resumes from its cursor (dashboard/daphne_websockets.py).
SLIPWAY_SOCKET_BUFFER_BYTES = int(os.environ.get("SLIPWAY_SOCKET_BUFFER_BYTES", 16 * 1024**2))
# Request bodies (docs/security.md): refused with 413 before they are read. Reports are
# streamed to disk; artifact uploads have their own limit, SLIPWAY_MAX_ARTIFACT_BYTES.
SLIPWAY_MAX_BODY_BYTES = int(os.environ.get("SLIPWAY_MAX_BODY_BYTES", 1024**2))
SLIPWAY_MAX_REPORT_BYTES = int(os.environ.get("SLIPWAY_MAX_REPORT_BYTES", 50 * 1024**2))
DATA_UPLOAD_MAX_MEMORY_SIZE = SLIPWAY_MAX_BODY_BYTES
SLIPWAY_HEROKU_API_URL = os.environ.get("SLIPWAY_HEROKU_API_URL", "https://api.heroku.com")
# How often the drift probe looks for environments due a check (each has its probe_interval).
SLIPWAY_PROBE_TICK_SECONDS = env_seconds("SLIPWAY_PROBE_TICK_SECONDS", 5)
# How often the end of a freeze window is looked for (pipelines/thaw.py): the auto-deploys
# that waited for it go within this many seconds.
SLIPWAY_FREEZE_TICK_SECONDS = env_seconds("SLIPWAY_FREEZE_TICK_SECONDS", 30)
# How often idle branch environments are looked for (each template has its idle_days), and
# how long a template's stop_command may take (pipelines/branch_environments.py).
SLIPWAY_BRANCH_EXPIRY_SECONDS = env_seconds("SLIPWAY_BRANCH_EXPIRY_SECONDS", 600)
SLIPWAY_STOP_TIMEOUT_SECONDS = env_seconds("SLIPWAY_STOP_TIMEOUT_SECONDS", 60)
CELERY_BEAT_SCHEDULE = {
    "expire-branch-environments": {
        "task": "pipelines.expire_branch_environments",
        "schedule": SLIPWAY_BRANCH_EXPIRY_SECONDS,
    },
    "reap-stale-deployments": {
        "task": "pipelines.reap_stale_deployments",
        "schedule": SLIPWAY_REAPER_INTERVAL_SECONDS,
    },
    "probe-environments": {
        "task": "pipelines.probe_environments",
        "schedule": SLIPWAY_PROBE_TICK_SECONDS,
    },
    "thaw-frozen": {
        "task": "pipelines.thaw_frozen",
        "schedule": SLIPWAY_FREEZE_TICK_SECONDS,
    },
}
# Retention (`python manage.py prune`, pipelines/retention.py).
SLIPWAY_KEEP_BUILD_DAYS = env_seconds("SLIPWAY_KEEP_BUILD_DAYS", 30)
SLIPWAY_KEEP_RELEASES = int(os.environ.get("SLIPWAY_KEEP_RELEASES", 5))
SLIPWAY_KEEP_LOG_DAYS = env_seconds("SLIPWAY_KEEP_LOG_DAYS", 90)
# Celery beat runs the prune every this many hours; 0 (the default) leaves it to you.
SLIPWAY_PRUNE_EVERY_HOURS = env_seconds("SLIPWAY_PRUNE_EVERY_HOURS", 0)
if SLIPWAY_PRUNE_EVERY_HOURS > 0:
    CELERY_BEAT_SCHEDULE["prune"] = {
        "task": "pipelines.prune",
        "schedule": SLIPWAY_PRUNE_EVERY_HOURS * 3600,
    }

# E-mail (notifications, pipelines/notifications.py): SMTP at EMAIL_HOST, else the console.
if os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            # Django's SMTP backend, under the whole-session deadline of notifications.
            "BACKEND": "pipelines.deadline.SMTPBackend",
            "OPTIONS": {
                "timeout": 10,  # each read; the whole session: SLIPWAY_NOTIFICATION_SECONDS
                "host": os.environ["EMAIL_HOST"],
                "port": int(os.environ.get("EMAIL_PORT", 587)),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "slipway@localhost")
# The longest one notification may take, connect to last byte (a webhook, an SMTP session).
SLIPWAY_NOTIFICATION_SECONDS = float(os.environ.get("SLIPWAY_NOTIFICATION_SECONDS", 30))

# --- Slipway ---------------------------------------------------------------
# Where people reach this Slipway: the links of notifications (asking the signers) start here.
SLIPWAY_BASE_URL = os.environ.get("SLIPWAY_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if not re.fullmatch(r"https?://[^\s/<>|\"'#?]+(/[^\s<>|\"'#?]*)?", SLIPWAY_BASE_URL):
    raise ImproperlyConfigured(
        f"SLIPWAY_BASE_URL {SLIPWAY_BASE_URL!r} is not an http(s) URL such as "
        "https://slipway.example.com (no query, no fragment)"
    )
SLIPWAY_ARTIFACT_DIR = Path(os.environ.get("SLIPWAY_ARTIFACT_DIR", VAR_DIR / "artifacts"))
SLIPWAY_MAX_ARTIFACT_BYTES = int(os.environ.get("SLIPWAY_MAX_ARTIFACT_BYTES", 2 * 1024**3))
# Promotion receipts are signed with this Ed25519 key (PEM); without it, with one Slipway makes
# once and keeps in the file (mode 0600), like the secret key (pipelines/receipts.py).
SLIPWAY_RECEIPT_KEY = os.environ.get("SLIPWAY_RECEIPT_KEY", "")
SLIPWAY_RECEIPT_KEY_FILE = os.environ.get(
    "SLIPWAY_RECEIPT_KEY_FILE", str(VAR_DIR / "receipt-key.pem")
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
