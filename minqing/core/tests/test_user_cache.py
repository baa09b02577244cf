"""The session's user kept in the shared cache (core.usercache, on with Redis): no user query
per page, and nothing an attacker holding a session can keep alive. A password change,
a deactivation, a role or jurisdiction change and a logout take effect on the very next
request of every session; a copy read before a change committed is never used after it.

The cache here is the test process's own (as Redis is every process's): USER_CACHE_SECONDS
is set by the fixture, the commits are run with django_capture_on_commit_callbacks."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from minqing.accounts.models import User
from minqing.accounts.services import user_set_jurisdiction, user_set_role
from minqing.conftest import login
from minqing.core import usercache
from minqing.core.permissions import RoleBackend
from minqing.core.roles import Role
from minqing.registry.tests.factories import HouseholdFactory


@pytest.fixture
def user_cache(settings):
    settings.USER_CACHE_SECONDS = 300
    cache.clear()


def _user_queries(ctx) -> int:
    return sum('FROM "accounts_user"' in q["sql"] for q in ctx.captured_queries)


def _households(client) -> set[int]:
    return {h["id"] for h in client.get("/api/registry/households?limit=100").json()["items"]}


def test_the_second_request_reads_no_user_row(client, users, user_cache):
    login(client, users.cadre)
    client.get("/api/registry/households")  # the first reads it and keeps it
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/registry/households").status_code == 200
    assert _user_queries(ctx) == 0


def test_off_by_default_without_redis(client, users, settings):
    assert settings.USER_CACHE_SECONDS == 0  # the test settings have no REDIS_URL
    login(client, users.cadre)
    client.get("/")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/")
    assert _user_queries(ctx) == 1


def test_a_stolen_session_dies_when_the_owner_changes_the_password(
    users, user_cache, django_capture_on_commit_callbacks
):
    thief, owner = login(Client(), users.cadre), login(Client(), users.cadre)
    assert thief.get("/api/registry/households").status_code == 200
    assert thief.get("/api/registry/households").status_code == 200  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):
        r = owner.post(
            "/accounts/password/",
            {
                "old_password": "pw-for-tests",
                "new_password1": "qing-shan-lu-7",
                "new_password2": "qing-shan-lu-7",
            },
        )
    assert r.status_code == 302
    assert thief.get("/api/registry/households").status_code == 401
    assert thief.get("/registry/households/").status_code == 302  # to the login page
    assert owner.get("/api/registry/households").status_code == 200  # the changer stays in


def test_a_deactivated_user_is_out_on_the_next_request(
    users, user_cache, django_capture_on_commit_callbacks
):
    client = login(Client(), users.cadre)
    client.get("/api/registry/households")
    client.get("/api/registry/households")
    with django_capture_on_commit_callbacks(execute=True):
        user = User.objects.get(pk=users.cadre.pk)
        user.is_active = False
        user.save()
    assert client.get("/api/registry/households").status_code == 401


def test_a_bulk_update_of_users_is_seen_too(users, user_cache, django_capture_on_commit_callbacks):
    """QuerySet.update sends no signal: the users' queryset drops every cached user itself."""
    client = login(Client(), users.cadre)
    client.get("/")
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.filter(pk=users.cadre.pk).update(must_change_password=True)
    assert client.get("/api/registry/households").json()["code"] == "password_change_required"


def test_a_jurisdiction_taken_away_is_gone_on_the_next_request(
    client, users, tree, user_cache, django_capture_on_commit_callbacks
):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9")
    login(client, users.township)
    assert qx.pk in _households(client)
    assert qx.pk in _households(client)
    admin = users.admin
    admin.is_superuser = True
    with django_capture_on_commit_callbacks(execute=True):
        user_set_jurisdiction(actor=admin, user=users.township, areas=[tree.heling])
    assert qx.pk not in _households(client)


def test_a_role_taken_away_is_gone_on_the_next_request(
    client, users, user_cache, django_capture_on_commit_callbacks
):
    login(client, users.supervisor)
    assert client.get("/core/audit/").status_code == 200
    assert client.get("/core/audit/").status_code == 200
    admin = users.admin
    admin.is_superuser = True
    with django_capture_on_commit_callbacks(execute=True):
        user_set_role(actor=admin, user=users.supervisor, role=Role.LEADER)
    assert client.get("/core/audit/").status_code == 403


def test_the_second_factor_is_still_asked_when_the_user_comes_from_the_cache(
    client, users, user_cache
):
    login(client, users.zhengfa, second_factor=False)
    for _ in range(3):  # a miss, then hits: each a fresh copy without the session's device
        r = client.get("/tips/")
        assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/verify/")
        assert client.get("/api/registry/households").status_code == 403


def test_logout_ends_the_session_at_once(client, users, user_cache):
    login(client, users.cadre)
    client.get("/api/registry/households")
    client.get("/api/registry/households")
    client.post("/logout/")
    assert client.get("/api/registry/households").status_code == 401


def test_a_copy_read_before_a_change_committed_is_never_used(users, user_cache):
    """The race a stolen session could try to win: its request reads the row, the change
    commits and drops the user, then that request stores what it read."""
    pk = users.cadre.pk
    stale = User.objects.get(pk=pk)

    def read_then_change_commits():
        usercache._replace([usercache._keys(pk)[1]])  # what user_changed does after commit
        return stale

    usercache.load(pk, read_then_change_commits)
    fresh = User.objects.get(pk=pk)
    fresh.first_name = "新"
    assert usercache.load(pk, lambda: fresh).first_name == "新"


def test_an_evicted_token_means_a_read_from_the_database(users, user_cache):
    pk = users.cadre.pk
    usercache.load(pk, lambda: users.cadre)
    read = []

    def from_db():
        read.append(1)
        return users.cadre

    for key in (usercache._keys(pk)[1], usercache.GENERATION_KEY):
        usercache.load(pk, from_db)
        cache.delete(key)
        read.clear()
        usercache.load(pk, from_db)
        assert read == [1]


def test_the_unit_read_with_the_user_is_current(
    users, user_cache, django_capture_on_commit_callbacks
):
    from minqing.accounts.models import Unit

    unit = Unit.objects.create(
        name="七星村委会", kind="village_committee", area=users.cadre.jurisdictions.get().area
    )
    User.objects.filter(pk=users.cadre.pk).update(unit=unit)
    assert RoleBackend().get_user(users.cadre.pk).unit.name == "七星村委会"
    assert RoleBackend().get_user(users.cadre.pk).unit.name == "七星村委会"
    with django_capture_on_commit_callbacks(execute=True):
        unit.name = "七星村民委员会"
        unit.save()
    assert RoleBackend().get_user(users.cadre.pk).unit.name == "七星村民委员会"


def test_a_deleted_user_is_gone(users, user_cache, django_capture_on_commit_callbacks):
    pk = users.outsider.pk
    assert RoleBackend().get_user(pk) is not None
    assert RoleBackend().get_user(pk) is not None
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.filter(pk=pk).delete()
    assert RoleBackend().get_user(pk) is None
