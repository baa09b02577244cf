"""Every setting is read from the environment through the small helpers below."""

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("MINQING_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else generated once into var/secret_key."""
    if key := env_str("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
)
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # /api/docs serves Swagger UI from its own static files, no CDN
    "axes",  # login throttling (see LOGIN_* below)
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Domain apps, one per domain; each plugs in its urls, api router, permissions,
    # navigation entries and demo data by itself (see minqing/core/plugins.py).
    "minqing.core",
    "minqing.areas",
    "minqing.accounts",
    "minqing.registry",
    "minqing.appeals",
    "minqing.visits",
    "minqing.tips",
]

MIDDLEWARE = [
    "minqing.tips.anonymity.TipPrivacyMiddleware",  # first: the tip pages see no address
    "django.middleware.security.SecurityMiddleware",
    # /api/<app>/public/ (auth=None): the rest minus session, login and page middleware
    "minqing.core.public.PublicAPIMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "minqing.accounts.otp.SecondFactorMiddleware",
    # the user's jurisdiction paths kept in the session (core.scoping: no query per page)
    "minqing.core.scoping.JurisdictionCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "minqing.core.middleware.CSPMiddleware",  # django-csp's, the header text kept
    "minqing.core.middleware.RequestContextMiddleware",
    "minqing.core.middleware.BadInputMiddleware",
    # Last: turns a refused login (throttled) into the login page with its message.
    "axes.middleware.AxesMiddleware",
    "minqing.core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "minqing.urls"
WSGI_APPLICATION = "minqing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "minqing" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "minqing.core.context_processors.shell",
                "csp.context_processors.nonce",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'minqing.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the site read while an import writes; a busy timeout instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Short OLTP queries: JIT compilation costs more than it saves (it kicked in for every
    # city-wide search at 1M residents). work_mem: see README "Production server".
    _pg_options = "-c jit=off"
    if env_str("DB_WORK_MEM"):
        _pg_options += f" -c work_mem={env_str('DB_WORK_MEM')}"
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = _pg_options
    # Opt-in (README "Production server"): parameters bound by the server, and a statement
    # run DB_PREPARE_THRESHOLD times on a connection prepared there. It saves the planning of
    # the short page queries, but once PostgreSQL settles on a generic plan for a statement
    # (e.g. after a city user's requests), `path LIKE $1` scoped sums run that plan for a
    # grid user too: measured 0.4 -> 5 ms. Off until the scoping filters suit generic plans.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = env_bool(
        "DB_SERVER_SIDE_BINDING", False
    )
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        env_int("DB_PREPARE_THRESHOLD", 0) or None
    )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Django's backend with a health check that needs no `SELECT 1` (core/pgbackend).
    DATABASES["default"]["ENGINE"] = "minqing.core.pgbackend"
# Intake's one statement prepared on each connection (core.dbcursor.prepared_cursor); off
# behind pgbouncer in transaction mode without max_prepared_statements.
DB_PREPARED_WRITES = env_bool("DB_PREPARED_WRITES", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a throttled username/address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "minqing.core.permissions.RoleBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "minqing.accounts.passwords.NoUsernameValidator"},
    {"NAME": "minqing.accounts.passwords.NoPhoneNumberValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "minqing" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [
    ("", BASE_DIR / "minqing" / "static"),
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
]
STATICFILES_DIRS = [
    (prefix, path) if prefix else path for prefix, path in STATICFILES_DIRS if path.exists()
]
WHITENOISE_USE_FINDERS = True  # serve straight from the finders when collectstatic has not run
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MAX_IMPORT_BYTES = env_int("MAX_IMPORT_BYTES", 200 * 1024 * 1024)
# Hostile files are refused while streaming: rows, columns, characters in one cell.
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 1_100_000)
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 100)
IMPORT_MAX_CELL_CHARS = env_int("IMPORT_MAX_CELL_CHARS", 2000)
IMPORT_MAX_ERRORS = env_int("IMPORT_MAX_ERRORS", 1000)  # bad rows kept per file (all counted)
IMPORT_MAX_XLSX_PART_BYTES = env_int("IMPORT_MAX_XLSX_PART_BYTES", 1536 * 1024 * 1024)
IMPORT_LOCK_WAIT = env_int("IMPORT_LOCK_WAIT", 600)  # seconds a commit waits for another
IMPORT_RETENTION_DAYS = env_int("IMPORT_RETENTION_DAYS", 7)  # uploads/reports kept after a job

REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
# Where import jobs run: "celery" (Redis), "thread" (a thread of the web process, the
# default without Redis, so progress is visible) or "inline" (inside the request; tests).
IMPORT_RUNNER = env_str("IMPORT_RUNNER", "celery" if REDIS_URL else "thread")
# A running job's worker stamps it alive this often; a job not stamped for JOB_STALE_SECONDS
# lost its worker (a restart) and ends as failed (core.jobs).
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 30)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 300)

CACHES = {
    "default": (
        # Django's Redis cache, one client per pool (core/redis_cache: not one per call)
        {"BACKEND": "minqing.core.redis_cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Conflicts with 身份证号 registered outside one's jurisdiction, per user and window
# (registry.services.id_conflicts_outside): more answer 429.
ID_CONFLICT_LIMIT = env_int("ID_CONFLICT_LIMIT", 5)
ID_CONFLICT_WINDOW_SECONDS = env_int("ID_CONFLICT_WINDOW_SECONDS", 3600)
# Login throttling (django-axes, counters in the cache: Redis when REDIS_URL is set, so every
# process shares them). A username from one address is locked after LOGIN_FAILURE_LIMIT
# failures; one address is locked for every username after LOGIN_ADDRESS_FAILURE_LIMIT
# failures (password spraying), high enough that colleagues behind one office NAT are not
# locked out by someone else's mistakes. Both for LOGIN_LOCKOUT_SECONDS; /login/ and
# /admin/login/ alike (every authenticate() call goes through the axes backend).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
AXES_HANDLER = "minqing.accounts.throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = LOGIN_LOCKOUT_SECONDS / 3600  # hours
AXES_CLIENT_IP_CALLABLE = "minqing.core.middleware.client_address"
AXES_USERNAME_CALLABLE = "minqing.accounts.throttle.login_username"
AXES_LOCKOUT_CALLABLE = "minqing.accounts.throttle.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused try does not extend the lock
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# Deployment (see README "Production"): all on when DEBUG is off and HTTPS is declared.
SECURE_SSL = env_bool("SECURE_SSL", False)  # 1 when the site is served over HTTPS
SESSION_COOKIE_HTTPONLY = True
# With Redis (shared by every process) sessions are read from the cache, written through to
# the database: no session query per page. Without it, the database (a per-process cache
# would keep a logged-out session alive in the other workers).
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if REDIS_URL
    else "django.contrib.sessions.backends.db"
)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
# With Redis the session's user is read from the shared cache while unchanged (one round
# trip for the session's user, no query; core.usercache says what drops it). Never without
# Redis: another process (a command) could change a user unseen by the server's own cache.
USER_CACHE_SECONDS = env_int("USER_CACHE_SECONDS", 300) if REDIS_URL else 0
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_SSL)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SECURE_SSL)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SECURE_SSL)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SECURE_SSL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_SSL)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)  # 1 once the domain is submitted
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy (django-csp): scripts only from our own origin or carrying the
# per-request nonce (`<script nonce="{{ CSP_NONCE }}">`), no inline event handlers, no eval
# (htmx runs with allowEval off, its indicator <style> off). No inline styles either: pages
# style through classes in the stylesheets; ECharts and Swagger UI set styles through the
# CSSOM from their scripts, which style-src does not govern.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Public endpoints (no account), per client address: appeals.api, core.public.
PUBLIC_THROTTLE_RATES = {
    "appeal_file": env_str("THROTTLE_PUBLIC_FILE", "10/h"),
    "appeal_track": env_str("THROTTLE_PUBLIC_TRACK", "30/m"),
    # files sent with the public form, counted one by one, per client address
    "appeal_attach": env_str("THROTTLE_PUBLIC_ATTACH", "20/h"),
}
# at most this many files with one matter filed by a resident (staff: ATTACHMENT_MAX_COUNT)
PUBLIC_ATTACHMENT_MAX_COUNT = env_int("PUBLIC_ATTACHMENT_MAX_COUNT", 3)

NINJA_PAGINATION_PER_PAGE = 20
NINJA_PAGINATION_MAX_LIMIT = 200

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

APP_NAME = _("民情")

# Encryption at rest (minqing/core/crypto.py): "kid:base64key" entries, the first encrypts,
# all decrypt. From MINQING_ENCRYPTION_KEYS, else the key file (generated on first use).
ENCRYPTION_KEYS = env_str("MINQING_ENCRYPTION_KEYS")
ENCRYPTION_KEY_FILE = Path(
    env_str("MINQING_ENCRYPTION_KEY_FILE", str(VAR_DIR / "keys" / "encryption.keys"))
)

# Second factor (TOTP, django-otp) for the roles listed here.
OTP_TOTP_ISSUER = "民情 Minqing"
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", "political_legal")
# A token of such a role works this many days after the second factor that made it.
OTP_TOKEN_MAX_AGE_DAYS = env_int("OTP_TOKEN_MAX_AGE_DAYS", 30)

# Anonymous tips (minqing/tips)
TIPS_RECEIPT_SCRYPT_N = env_int("TIPS_RECEIPT_SCRYPT_N", 2**14)
TIPS_RECEIPT_LOOKUPS_PER_MINUTE = env_int("TIPS_RECEIPT_LOOKUPS_PER_MINUTE", 30)
TIPS_VERIFY_WORKING_DAYS = env_int("TIPS_VERIFY_WORKING_DAYS", 20)
TIPS_DEADLINE_REMINDER_DAYS = env_int("TIPS_DEADLINE_REMINDER_DAYS", 3)
TIPS_EXPIRY_REMINDER_DAYS = env_int("TIPS_EXPIRY_REMINDER_DAYS", 14)
# days a tip is kept after it ends, per outcome ("outcome=days,...")
TIPS_RETENTION_DAYS = {
    k: int(v)
    for k, v in (
        item.split("=")
        for item in env_list(
            "TIPS_RETENTION_DAYS", "filed=1825,transferred=1825,unfounded=365,rejected=180"
        )
    )
}
TIPS_MAX_TEXT = env_int("TIPS_MAX_TEXT", 10000)

# bench/bench_pages.py only: mounts a trivial login-required view to compare the load with,
# and reports template time and query count per response.
MINQING_BENCH = env_bool("MINQING_BENCH", False)
if MINQING_BENCH:
    MIDDLEWARE = ["minqing.core.benchtiming.BenchTimingMiddleware", *MIDDLEWARE]
