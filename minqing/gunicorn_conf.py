"""gunicorn settings for `make serve` (the production server). Every value can be
overridden by the environment (WEB_WORKERS, WEB_THREADS, WEB_TIMEOUT, WEB_BIND).

Without REDIS_URL the cache is each process's memory: the login throttle, the ID-conflict
limit and the public throttles count there, and background jobs run as threads of the web
process. So without Redis the default is ONE process with threads (counters shared, never
split between workers) that is never recycled (a recycle would reset the counters and kill
a running import); several processes need REDIS_URL."""

import multiprocessing
import os
import sys

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Two per core plus one: the requests wait on PostgreSQL about as long as they compute.
_per_core = multiprocessing.cpu_count() * 2 + 1
_shared_cache = bool(os.environ.get("REDIS_URL"))
workers = int(os.environ.get("WEB_WORKERS") or (_per_core if _shared_cache else 1))
threads = int(os.environ.get("WEB_THREADS") or (1 if _shared_cache else _per_core))
if workers > 1 and not _shared_cache:
    print(
        "gunicorn_conf: WEB_WORKERS>1 without REDIS_URL splits the login-throttle counters"
        " between processes (an attacker gets WEB_WORKERS times the attempts); set REDIS_URL.",
        file=sys.stderr,
    )
# Nothing slow stays in a request (exports over a few thousand rows are background jobs).
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory after a long day of big pages).
max_requests = int(os.environ.get("WEB_MAX_REQUESTS") or (2000 if _shared_cache else 0))
max_requests_jitter = 200
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
