"""Login throttling (django-axes, accounts/throttle.py), written as the attacker."""

import pytest
from django.core.cache import cache

from minqing.accounts.tests.factories import UserFactory
from minqing.core.models import AuditEvent
from minqing.core.roles import Role

GOOD = "pw-for-tests"


@pytest.fixture(autouse=True)
def _limits(settings):
    cache.clear()
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    yield
    cache.clear()


def attempt(client, username, password, address="10.0.0.1", path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_username_is_locked_from_one_address_and_audited(client, users):
    for _ in range(2):
        page = attempt(client, "cadre", "wrong")
        assert page.status_code == 200 and "用户名或密码不对" in page.content.decode()
    page = attempt(client, "cadre", "wrong")
    assert page.status_code == 429 and "登录失败次数过多" in page.content.decode()
    # even the right password is refused while locked, and no session starts
    page = attempt(client, "cadre", GOOD)
    assert page.status_code == 429 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 3
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.detail["username"] == "cadre" and lockout.area == users.cadre.areas.get()
    assert lockout.source_address == "10.0.0.1"
    assert AuditEvent.objects.filter(action="auth.login_throttled").count() == 1
    # the same username from another address is not locked
    assert attempt(client, "cadre", GOOD, address="10.0.0.2").status_code == 302


def test_a_colleague_behind_the_same_nat_can_still_log_in(client, users):
    for _ in range(3):
        attempt(client, "cadre", "wrong")
    assert attempt(client, "cadre", GOOD).status_code == 429
    page = attempt(client, "township", GOOD)
    assert page.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor=users.township).count() == 1


def test_case_and_spaces_do_not_reset_the_counter(client, users):
    for name in ("cadre", " CADRE", "Cadre "):
        attempt(client, name, "wrong")
    assert attempt(client, "cadre", GOOD).status_code == 429


def test_password_spraying_locks_the_address(client, users):
    for n in range(6):  # one guess for each of many usernames
        UserFactory(username=f"victim{n}", role=Role.GRID_WORKER)
        attempt(client, f"victim{n}", "Passw0rd!")
    # now even a valid login from that address is refused, other addresses are not
    assert attempt(client, "township", GOOD).status_code == 429
    assert attempt(client, "township", GOOD, address="10.9.9.9").status_code == 302
    assert AuditEvent.objects.filter(action="auth.lockout").exists()


def test_the_admin_login_is_throttled_too(client, users):
    users.admin.is_superuser = True
    users.admin.save()
    for _ in range(3):
        attempt(client, "admin", "wrong", path="/admin/login/")
    page = attempt(client, "admin", GOOD, path="/admin/login/")
    assert page.status_code == 429 and "登录失败次数过多" in page.content.decode()
    # and failures on /admin/login/ count for /login/ as well: one counter
    assert attempt(client, "admin", GOOD).status_code == 429


def test_counters_are_shared_through_redis(client, users, settings):
    """With REDIS_URL every process counts together: the counters are in Redis, so a lock
    seen by one process (here: a fresh Redis connection) holds for all."""
    import os

    import redis
    from django.core.cache import caches

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/2")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip("no Redis")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "minqing-test-throttle",
        }
    }
    caches["default"].clear()
    try:
        for _ in range(3):
            attempt(client, "cadre", "wrong")
        other_process = redis.Redis.from_url(url)
        keys = other_process.keys("minqing-test-throttle:*axes-*")
        assert len(keys) == 2  # username+address, address
        assert attempt(client, "cadre", GOOD).status_code == 429
    finally:
        caches["default"].clear()
