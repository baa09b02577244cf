"""Roles decide actions through one table."""

import pytest

from minqing.core.errors import PermissionDeniedError
from minqing.core.permissions import has_perm, register, registered, require
from minqing.core.roles import Role


def test_every_permission_names_known_roles():
    assert registered()
    for perm in registered().values():
        assert perm.roles <= set(Role.values)


def test_unknown_role_is_rejected_at_registration():
    with pytest.raises(ValueError):
        register("x.y", roles={"emperor"})


def test_unknown_permission_is_a_programming_error(users):
    with pytest.raises(KeyError):
        has_perm(users.cadre, "no.such")


def test_role_table(users):
    assert has_perm(users.supervisor, "core.view_audit")
    assert not has_perm(users.cadre, "core.view_audit")
    assert has_perm(users.admin, "areas.manage")
    assert not has_perm(users.township, "areas.manage")
    with pytest.raises(PermissionDeniedError):
        require(users.grid, "areas.export")


def test_inactive_user_has_no_permission(users):
    users.supervisor.is_active = False
    assert not has_perm(users.supervisor, "core.view_audit")


def test_django_has_perm_answers_from_the_same_table(users):
    assert users.supervisor.has_perm("core.view_audit")
    assert not users.cadre.has_perm("core.view_audit")


def test_me_lists_the_roles_permissions(client, users):
    client.force_login(users.supervisor)
    data = client.get("/api/core/me").json()
    assert data["role"] == "supervisor"
    assert "core.view_audit" in data["permissions"]
    assert "areas.manage" not in data["permissions"]
    assert [a["name"] for a in data["areas"]] == ["昭山示范区"]
