"""gunicorn settings for `make serve` (the production server). Every value can be
overridden by the environment (WEB_WORKERS, WEB_THREADS, WEB_TIMEOUT, WEB_BIND)."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Two per core plus one: the requests wait on PostgreSQL about as long as they compute.
workers = int(os.environ.get("WEB_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("WEB_THREADS", "1"))
# Nothing slow stays in a request (exports over a few thousand rows are background jobs).
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory after a long day of big pages).
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
