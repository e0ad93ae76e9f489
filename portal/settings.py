"""Slipway settings, read from the environment (django-environ).

Every knob has a development default so `make run` works on a fresh machine: SQLite under `var/`,
Redis on loopback, a generated secret key kept under `var/`, and the embedded AWS emulator when
`AWS_ENDPOINT_URL` points at it.
"""

import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional, never committed


def _dev_secret_key() -> str:
    """Return a secret key generated once per checkout and kept in var/ (development only)."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "portal",
    "catalog",
    "deployments",
    "monitoring",
    "audit",
    "api",
    "ninja",  # serves the API docs page's Swagger UI from local static files
    "interop",
    "costs",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "portal.middleware.CSPMiddleware",  # django-csp's, its policy text built once
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.SessionMiddleware",  # Django's; API calls pass by (as below)
    "django.middleware.common.CommonMiddleware",
    # Control characters in query strings and hostile API bodies never reach a view.
    "portal.middleware.UntrustedInputMiddleware",
    # AWS calls made for a page wait seconds, not minutes (short timeouts, one retry at most).
    "portal.middleware.InteractiveAwsMiddleware",
    # Django's own, by name: `check --deploy` (security.W003) looks for this exact path.
    "django.middleware.csrf.CsrfViewMiddleware",
    "portal.middleware.AuthenticationMiddleware",
    # Every page needs a signed-in user unless its view says @login_not_required.
    "portal.middleware.LoginRequiredMiddleware",
    "portal.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.HtmxMiddleware",
    # Last, as django-axes asks: locks out repeated failed logins (see AXES_* below).
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out username/IP before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Password guessing: 5 failures for one username from one address lock that pair for 15 min.
AXES_FAILURE_LIMIT = env.int("SLIPWAY_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("SLIPWAY_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Password spraying (few guesses each for many usernames): 30 failures from one address, for any
# usernames, pause sign-in from it for 15 minutes (portal.views.LoginView, a Redis counter).
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("SLIPWAY_LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
LOGIN_ADDRESS_WINDOW_SECONDS = env.int("SLIPWAY_LOGIN_ADDRESS_WINDOW_SECONDS", default=900)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "audit/locked_out.html"
AXES_VERBOSE = False

# Content-Security-Policy (django-csp): scripts, styles, images and requests from Slipway's own
# origin only; no inline script or style, no eval (htmx needs none: see static/js/slipway.js),
# no plugins, no framing, forms post only to Slipway.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
    {
        # Only for the hot page that prints hundreds of values (the catalog list, its frame a
        # mirror of base.html); `get_template(name, using="jinja2")`. Other pages stay in
        # Django templates.
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"autoescape": True, "environment": "portal.jinja_env.environment"},
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'slipway.sqlite3'}")}
# Keep connections between requests (a new PostgreSQL connection costs ~4 ms of every page);
# health checks drop one the server closed instead of failing the next request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in development; wait for locks, use WAL.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # The catalog is small enough to stay in memory (or on SSD), where a page read in index
    # order costs about what a sequential one does; PostgreSQL's default of 4 (spinning disks)
    # made it scan and test every service's search document for `?q=payment` sorted by name
    # at 5,000 services (10 ms) instead of walking the slug index until a page had matched
    # (1-3 ms). 1.1 is PostgreSQL's own advice for SSDs. Set per connection, so a shared server
    # keeps its other databases' settings.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _page_cost = env.float("SLIPWAY_PG_RANDOM_PAGE_COST", default=1.1)
    _options["options"] = f"{_options.get('options', '')} -c random_page_cost={_page_cost}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "portal.cache.RedisCache",  # Django's, its clients kept (portal/cache.py)
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="slipway"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions are read from the cache (Redis) on every page and written through to the database:
# one SQL query fewer per signed-in page, and nothing lost when the cache is cleared.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:service_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"  # `collectstatic` target for production
STATIC_ROOT.mkdir(exist_ok=True)
# Serve files straight from the app/static folders as well, so development and tests need no
# collectstatic step.
WHITENOISE_USE_FINDERS = True

# Uploaded Lambda zips are kept in the database (CodeArtifact); cap a request at the size AWS
# accepts for a direct zip upload plus form overhead.
DATA_UPLOAD_MAX_MEMORY_SIZE = 52 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 52 * 1024 * 1024
# An uploaded zip is refused (from its central directory, before it is stored) beyond these;
# the unzipped size is held to Lambda's own 250 MB (deployments/packages.py).
LAMBDA_ZIP_MAX_ENTRIES = env.int("SLIPWAY_LAMBDA_ZIP_MAX_ENTRIES", default=20_000)
LAMBDA_ZIP_MAX_RATIO = env.int("SLIPWAY_LAMBDA_ZIP_MAX_RATIO", default=200)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True  # a task that dies mid-way is redelivered ...
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ... also when its worker is killed.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A deploy spends its time waiting for AWS (and for rate-limit tokens), not on the CPU: each
# worker process runs many at once in threads. Every thread holds a database connection.
CELERY_WORKER_POOL = env.str("SLIPWAY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("SLIPWAY_WORKER_CONCURRENCY", default=16)
# A process's threads share its boto3 clients: as many pooled connections as threads.
AWS_MAX_POOL_CONNECTIONS = max(10, CELERY_WORKER_CONCURRENCY)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
# Redelivery of unacked messages happens after this; every countdown we use is far below it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="slipway")
CELERY_TASK_IGNORE_RESULT = True  # state lives on the rows, not in a result backend
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reconcile-deployments": {
        "task": "deployments.tasks.reconcile_deployments",
        # Often: a dead worker's deployments run again within seconds (it is two small queries).
        "schedule": env.int("SLIPWAY_RECONCILE_EVERY", default=5),
    },
    "expire-approvals": {
        "task": "deployments.tasks.expire_approvals",
        "schedule": 300,
    },
    "revert-timed-scales": {
        "task": "deployments.tasks.revert_timed_scales",
        "schedule": 60,
    },
    "check-drift": {
        "task": "deployments.tasks.check_drift",
        "schedule": env.int("SLIPWAY_DRIFT_CHECK_EVERY", default=600),
    },
    "sweep-deployment-events": {
        "task": "deployments.tasks.sweep_deployment_events",
        "schedule": 60,
    },
    "reconcile-imports": {
        "task": "interop.tasks.reconcile_imports",
        "schedule": 60,
    },
    "prune-imports": {
        "task": "interop.tasks.prune_imports",
        "schedule": 3600,
    },
}
# Finished and failed import jobs (their reports) are deleted this many days after they ended.
IMPORT_JOB_KEEP_DAYS = env.int("SLIPWAY_IMPORT_JOB_KEEP_DAYS", default=30)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- AWS ----------------------------------------------------------------------------------------
# Empty AWS_ENDPOINT_URL = real AWS through the standard credential chain.
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")
AWS_DEFAULT_REGION = env.str("AWS_DEFAULT_REGION", default="us-east-1")
AWS_MAX_ATTEMPTS = env.int("SLIPWAY_AWS_MAX_ATTEMPTS", default=5)
AWS_CONNECT_TIMEOUT = env.int("SLIPWAY_AWS_CONNECT_TIMEOUT", default=5)
AWS_READ_TIMEOUT = env.int("SLIPWAY_AWS_READ_TIMEOUT", default=30)
# Inside a web request someone waits for the page: short timeouts and at most one retry, so a
# hanging AWS holds a web worker for seconds, not minutes (portal.aws.interactive()).
AWS_WEB_MAX_ATTEMPTS = env.int("SLIPWAY_AWS_WEB_MAX_ATTEMPTS", default=2)
AWS_WEB_CONNECT_TIMEOUT = env.float("SLIPWAY_AWS_WEB_CONNECT_TIMEOUT", default=3)
AWS_WEB_READ_TIMEOUT = env.float("SLIPWAY_AWS_WEB_READ_TIMEOUT", default=3)
AWS_WEB_RATE_LIMIT_MAX_WAIT = 2.0  # seconds a web request may wait for a rate-limit token
AWS_ROLE_SESSION_SECONDS = 900
# An AWS call inside a database transaction holds row locks for a network round trip (and a
# rollback cannot undo what AWS did): "warn" logs each one, "raise" refuses it (the tests).
AWS_CALLS_IN_TRANSACTIONS = env.str("SLIPWAY_AWS_CALLS_IN_TRANSACTIONS", default="warn")
# Shared token buckets (portal/ratelimit.py): group → (tokens per second, burst), AWS's
# documented limits per operation (sources in portal/ratelimit.py). Where AWS documents only a
# rate, the burst is one second's worth.
AWS_RATE_LIMITS_ENABLED = env.bool("SLIPWAY_AWS_RATE_LIMITS", default=True)
AWS_RATE_LIMITS = {
    "ecs-task-definition-writes": (1.0, 20),
    "ecs-service-writes": (5.0, 50),
    "lambda-control": (15.0, 15),
    "lambda-get-function": (100.0, 100),
    "lambda-get-policy": (15.0, 15),
    "apigateway-total": (10.0, 40),
    "apigateway-create-deployment": (0.2, 1),
    "apigateway-create-rest-api": (1 / 3, 1),
    "apigateway-delete-rest-api": (1 / 30, 1),
    "apigateway-resource-writes": (5.0, 5),
    "apigateway-api-key-writes": (5.0, 5),
    "apigateway-get-resources": (2.5, 5),
    "apigateway-put-rest-api": (1.0, 1),
    "apigateway-update-usage-plan": (1 / 20, 1),
}
# Seconds a worker's call may wait for its token before giving up (the deployment is then retried
# later). Long enough for a full queue of threads on the slowest bucket a deploy uses (ECS task
# definitions: 1/s, so 2 workers × 16 threads wait up to ~32 s); well below
# DEPLOY_STALE_SECONDS, past which a silent deployment is taken to have lost its worker.
AWS_RATE_LIMIT_MAX_WAIT = 60.0
# A deployment's apply whose token is further away than this does not sleep in its worker
# thread: the token is reserved for it, the deployment is parked (status running, the lease
# kept) and resumed when the token is due, so the thread serves other deployments meanwhile
# (portal.ratelimit.parking). Up to AWS_RATE_LIMIT_MAX_PARK seconds ahead; beyond that the
# call is refused as above (a queue of 900 ECS task definitions at AWS's 1 per second).
AWS_RATE_LIMIT_PARK_AFTER = env.float("SLIPWAY_AWS_RATE_LIMIT_PARK_AFTER", default=2.0)
AWS_RATE_LIMIT_MAX_PARK = env.float("SLIPWAY_AWS_RATE_LIMIT_MAX_PARK", default=900.0)
# The embedded emulator (moto server) listens here; 5055 keeps clear of Django's 8000 and
# moto's own default 5000 (often taken by other dev tools).
EMULATOR_HOST = env.str("SLIPWAY_EMULATOR_HOST", default="127.0.0.1")
EMULATOR_PORT = env.int("SLIPWAY_EMULATOR_PORT", default=5055)
if AWS_ENDPOINT_URL:
    # Demo traffic (metric points and log lines for the demo services) in embedded mode only;
    # the task itself also refuses to run against real AWS.
    CELERY_BEAT_SCHEDULE["monitoring-demo-traffic"] = {
        "task": "monitoring.tasks.demo_traffic",
        "schedule": 60,
    }

# Cross-service log search (monitoring/log_search.py): groups per query, running queries per
# account and region (CloudWatch allows 30 concurrent Insights queries per account).
LOG_SEARCH_MAX_GROUPS = env.int("SLIPWAY_LOG_SEARCH_MAX_GROUPS", default=20)
LOG_SEARCH_MAX_CONCURRENT = env.int("SLIPWAY_LOG_SEARCH_MAX_CONCURRENT", default=10)

# --- API rate limits ---------------------------------------------------------------------------
# Token buckets in Redis (portal/ratelimit.py): (requests per second, burst). Per client address
# (checked before the token is looked up) and per token; beyond them the API answers 429.
API_RATE_LIMITS_ENABLED = env.bool("SLIPWAY_API_RATE_LIMITS", default=True)
API_RATE_LIMIT_PER_ADDRESS = (
    env.float("SLIPWAY_API_ADDRESS_RATE", default=20.0),
    env.int("SLIPWAY_API_ADDRESS_BURST", default=200),
)
API_RATE_LIMIT_PER_TOKEN = (
    env.float("SLIPWAY_API_TOKEN_RATE", default=5.0),
    env.int("SLIPWAY_API_TOKEN_BURST", default=100),
)

# --- Deployments --------------------------------------------------------------------------------
# Seconds between stability checks; a re-scheduled task, never a sleep inside one.
DEPLOY_POLL_SECONDS = env.float("SLIPWAY_DEPLOY_POLL_SECONDS", default=2.0)
# A running deployment whose heartbeat is older than this is taken to have lost its worker.
DEPLOY_STALE_SECONDS = env.int("SLIPWAY_DEPLOY_STALE_SECONDS", default=120)
# Each worker process refreshes a liveness key in Redis every TTL/3 s; a SIGKILLed one's key is
# gone after the TTL, and its running deployments (quiet for DEAD_WORKER_SECONDS) are re-queued
# by the next reconcile: back to running within TTL + reconcile interval (≈ 15 s).
DEPLOY_WORKER_TTL_SECONDS = env.int("SLIPWAY_DEPLOY_WORKER_TTL_SECONDS", default=10)
DEPLOY_DEAD_WORKER_SECONDS = env.int("SLIPWAY_DEPLOY_DEAD_WORKER_SECONDS", default=10)
# The deployment page's event stream (deployments/live.py) ends after this many seconds and
# the browser reconnects, so a stream never holds a web worker thread for long.
DEPLOY_EVENTS_MAX_SECONDS = env.int("SLIPWAY_DEPLOY_EVENTS_MAX_SECONDS", default=30)
DEPLOY_EVENTS_HEARTBEAT_SECONDS = 10
# Open streams per web process (each holds a thread); beyond it the page polls. Keep it below
# the server's threads per process so pages are still served.
DEPLOY_EVENTS_MAX_STREAMS = env.int("SLIPWAY_DEPLOY_EVENTS_MAX_STREAMS", default=4)
DEPLOY_WAIT_TIMEOUT_SECONDS = env.int("SLIPWAY_DEPLOY_WAIT_TIMEOUT_SECONDS", default=900)
# A deployment's first run applies against what its plan read from AWS when confirmed within
# this many seconds (deployments/observations.py); 0 makes every run read AWS again.
DEPLOY_PLAN_REUSE_SECONDS = env.int("SLIPWAY_DEPLOY_PLAN_REUSE_SECONDS", default=60)
# An approval request not decided within this many hours is cancelled.
APPROVAL_EXPIRY_HOURS = env.int("SLIPWAY_APPROVAL_EXPIRY_HOURS", default=24)
# Deployment events (deployments/events.py) still pending after this long are published by beat.
DEPLOYMENT_EVENTS_SWEEP_AFTER_SECONDS = env.int("SLIPWAY_EVENTS_SWEEP_AFTER", default=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},  # the emulator logs every request otherwise
        "axes": {"level": "WARNING"},  # one INFO line per sign-in otherwise
    },
}

if not DEBUG:
    # Production runs behind TLS: cookies only over HTTPS, HSTS for a year. Browsers treat
    # http://localhost as secure, so loopback runs with DEBUG off (tests) still keep cookies.
    # `make run` serves plain http on loopback with DEBUG off (no debug pages for users) and
    # turns this off; everywhere else cookies travel over HTTPS only.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SLIPWAY_SECURE_COOKIES", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # The TLS proxy usually redirects http→https itself; set 1 when Django should do it.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    if env.bool("SLIPWAY_BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REFERRER_POLICY = "same-origin"
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
