"""The jurisdiction paths kept in the session (core.scoping.JurisdictionCacheMiddleware):
one query fewer per page, and never a page of an area the user no longer holds, whoever
changed the jurisdiction and however (service, admin/ORM, the m2m manager)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from minqing.accounts.models import Jurisdiction, User
from minqing.accounts.services import user_set_jurisdiction, user_set_role
from minqing.conftest import login
from minqing.core.roles import Role
from minqing.core.scoping import SESSION_SCOPE_KEY
from minqing.registry.tests.factories import HouseholdFactory


def _superuser(users):
    users.admin.is_superuser = True
    return users.admin


def _households(client):
    return client.get("/api/registry/households?limit=100").json()["items"]


def test_the_session_keeps_the_paths_and_pages_skip_the_query(client, users, tree):
    login(client, users.cadre)
    client.get("/api/registry/households")
    kept = client.session[SESSION_SCOPE_KEY]
    assert kept[0] == users.cadre.pk and kept[2] == [tree.qixing.path]
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/registry/households")
    assert not any("accounts_jurisdiction" in q["sql"] for q in ctx.captured_queries)


def test_a_jurisdiction_taken_away_by_the_service_is_gone_on_the_next_request(client, users, tree):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9")
    login(client, users.township)
    assert qx.pk in {h["id"] for h in _households(client)}
    user_set_jurisdiction(actor=_superuser(users), user=users.township, areas=[tree.heling])
    assert qx.pk not in {h["id"] for h in _households(client)}


def test_a_jurisdiction_deleted_through_the_orm_is_gone_on_the_next_request(client, users, tree):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9")
    login(client, users.township)
    assert qx.pk in {h["id"] for h in _households(client)}
    Jurisdiction.objects.filter(user=users.township).delete()
    Jurisdiction.objects.create(user=users.township, area=tree.heling)
    assert qx.pk not in {h["id"] for h in _households(client)}


def test_a_jurisdiction_changed_through_the_m2m_manager_is_gone_on_the_next_request(
    client, users, tree
):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9")
    login(client, users.township)
    assert qx.pk in {h["id"] for h in _households(client)}
    users.township.areas.remove(tree.zhaoshan)
    assert _households(client) == []
    tree.heling.staff.add(users.township)
    tree.heling.staff.clear()
    assert _households(client) == []


def test_paths_kept_for_another_user_or_version_are_not_trusted(client, users, tree):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9")
    login(client, users.outsider)  # 鹤岭村
    client.get("/api/registry/households")
    session = client.session
    version = User.objects.get(pk=users.outsider.pk).scope_version
    # a session that claims a county's paths for another user id, then for an old version
    for forged in (
        [users.outsider.pk + 1000, version, [tree.county.path]],
        [users.outsider.pk, version - 1, [tree.county.path]],
    ):
        session[SESSION_SCOPE_KEY] = forged
        session.save()
        assert qx.pk not in {h["id"] for h in _households(client)}


def test_a_role_change_bumps_the_version(users):
    before = User.objects.get(pk=users.cadre.pk).scope_version
    user_set_role(actor=_superuser(users), user=users.cadre, role=Role.TOWNSHIP_STAFF)
    assert User.objects.get(pk=users.cadre.pk).scope_version > before
