"""The production server's settings: without Redis, one process (the throttles' counters live
in its memory and must not be split between workers) that is never recycled."""

import importlib.util
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn_conf.py"


def load(monkeypatch, **env):
    for name in ("REDIS_URL", "WEB_WORKERS", "WEB_THREADS", "WEB_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_redis_one_process_with_threads_never_recycled(monkeypatch):
    conf = load(monkeypatch)
    assert conf.workers == 1 and conf.threads > 1 and conf.max_requests == 0


def test_with_redis_processes_per_core(monkeypatch):
    conf = load(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0")
    assert conf.workers > 1 and conf.threads == 1 and conf.max_requests > 0


@pytest.mark.parametrize("redis", ["", "redis://127.0.0.1:6379/0"])
def test_the_environment_still_decides(monkeypatch, capsys, redis):
    env = {"WEB_WORKERS": "4", "WEB_THREADS": "2", "WEB_MAX_REQUESTS": "10"}
    if redis:
        env["REDIS_URL"] = redis
    conf = load(monkeypatch, **env)
    assert (conf.workers, conf.threads, conf.max_requests) == (4, 2, 10)
    # several processes without Redis: said out loud at start
    assert ("splits the login-throttle counters" in capsys.readouterr().err) == (not redis)
