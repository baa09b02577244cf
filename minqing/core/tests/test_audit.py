"""The audit log: one event per service-layer change, append-only, browsable by supervisors."""

import pytest
from django.contrib.admin.sites import site
from django.db import connection, transaction
from django.test import RequestFactory

from minqing.accounts.services import unit_create, user_create, user_set_jurisdiction, user_set_role
from minqing.areas.models import Level
from minqing.areas.services import area_create, area_rename
from minqing.conftest import login
from minqing.core.audit import audit_record
from minqing.core.context import request_context
from minqing.core.models import AppendOnlyError, AuditEvent
from minqing.core.roles import Role


def one_new_event(action, run):
    before = AuditEvent.objects.count()
    result = run()
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == action
    return result, event


def test_every_service_change_writes_one_event(users, tree):
    admin = users.admin
    admin.is_superuser = True
    admin.save()
    area, event = one_new_event(
        "area.create",
        lambda: area_create(
            actor=admin, parent=tree.zhaoshan, level=Level.VILLAGE, code="430372100209", name="新村"
        ),
    )
    assert event.actor == admin and event.target_id == str(area.pk) and event.area_id == area.pk
    one_new_event("area.rename", lambda: area_rename(actor=admin, area=area, name="新新村"))
    unit, _ = one_new_event(
        "unit.create",
        lambda: unit_create(actor=admin, name="新村村委会", kind="village_committee", area=area),
    )
    user, event = one_new_event(
        "user.create",
        lambda: user_create(
            actor=admin,
            username="newbie",
            password="a-long-pass-phrase-9",
            role=Role.GRID_WORKER,
            full_name="新网格",
            unit=unit,
            areas=[area],
        ),
    )
    assert event.detail["role"] == Role.GRID_WORKER
    one_new_event(
        "user.role", lambda: user_set_role(actor=admin, user=user, role=Role.VILLAGE_CADRE)
    )
    one_new_event(
        "user.jurisdiction",
        lambda: user_set_jurisdiction(actor=admin, user=user, areas=[tree.qixing]),
    )


def test_refused_change_writes_nothing(users, tree):
    from minqing.core.errors import DomainError

    before = AuditEvent.objects.count()
    with pytest.raises(DomainError):
        area_create(
            actor=users.cadre,
            parent=tree.qixing,
            level=Level.GRID,
            code="430372100201009",
            name="x",
        )
    with pytest.raises(DomainError):
        area_create(  # admin of the city, but a wrong code
            actor=users.admin, parent=tree.qixing, level=Level.GRID, code="4303721002019", name="x"
        )
    assert AuditEvent.objects.count() == before


def test_event_keeps_source_address_and_channel(users, tree):
    with request_context(address="10.1.2.3", channel="web"):
        event = audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
    assert event.source_address == "10.1.2.3"
    assert event.channel == "web"
    assert event.actor_label == "cadre"  # no full name: the username alone


def test_source_address_comes_from_the_request(client, users, tree):
    login(client, users.admin)
    users.admin.is_superuser = True
    users.admin.save()
    client.post(
        "/api/areas/",
        {
            "parent_id": tree.qixing.pk,
            "level": 5,
            "code": "430372100201009",
            "name": "七星村第9网格",
        },
        content_type="application/json",
        REMOTE_ADDR="192.0.2.7",
    )
    event = AuditEvent.objects.get(action="area.create")
    assert event.source_address == "192.0.2.7" and event.channel == "api"


def test_events_cannot_be_changed_or_deleted(users, tree):
    event = audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.read"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database trigger is PostgreSQL-only")
def test_database_refuses_update_and_delete(users, tree):
    from django.db.utils import DatabaseError

    event = audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
    for sql in (
        "UPDATE core_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, action="test.read").exists()


def test_admin_offers_no_add_change_or_delete(users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    model_admin = site._registry[AuditEvent]
    request = RequestFactory().get("/admin/core/auditevent/")
    request.user = users.admin
    event = audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert model_admin.get_actions(request) == {}


def test_admin_pages_cannot_delete(client, users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    event = audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
    login(client, users.admin)
    assert client.get("/admin/core/auditevent/").status_code == 200
    assert (
        client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_supervisor_browses_and_filters_within_jurisdiction(client, users, tree):
    audit_record(actor=users.cadre, action="area.rename", obj=tree.qixing)
    audit_record(actor=users.cadre, action="registry.resident.reveal_id", obj=tree.qixing)
    audit_record(actor=users.outsider, action="area.rename", obj=tree.helingcun)
    supervisor = users.supervisor
    supervisor.jurisdictions.update(area=tree.zhaoshan)
    login(client, supervisor)
    page = client.get("/core/audit/").content.decode()
    assert "七星村" in page and "鹤岭村" not in page
    page = client.get("/core/audit/", {"action": "registry"}).content.decode()
    assert "registry.resident.reveal_id" in page and "area.rename</code>" not in page
    data = client.get("/api/core/audit", {"actor": "cadre"}).json()
    assert data["count"] == 2
    assert {e["action"] for e in data["items"]} == {"area.rename", "registry.resident.reveal_id"}


def test_other_roles_cannot_browse(client, users, tree):
    login(client, users.cadre)
    assert client.get("/core/audit/").status_code == 403
    assert client.get("/api/core/audit").status_code == 403


def test_event_about_something_that_is_not_a_row(users):
    event = audit_record(actor=users.cadre, action="report.read", obj="月度报表 2026-11")
    assert event.target_repr == "月度报表 2026-11" and event.area_id is None


def test_back_office_is_scoped_for_administrators_of_a_township(client, users, tree):
    admin = users.admin
    admin.jurisdictions.update(area=tree.zhaoshan)
    login(client, admin)
    page = client.get("/admin/areas/area/").content.decode()
    assert "七星村" in page and "鹤岭村" not in page
    assert client.get(f"/admin/areas/area/{tree.helingcun.pk}/change/").status_code == 302
    users_page = client.get("/admin/accounts/user/").content.decode()
    assert ">cadre<" in users_page and ">outsider<" not in users_page


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's")
def test_runtime_role_from_db_grants_cannot_erase_the_audit_log(users, tree):
    """The grants `minqing db_grants` prints: the runtime role writes the app's tables and
    adds audit events, but cannot update, delete, truncate or un-trigger the audit table."""
    from django.db.utils import DatabaseError

    from minqing.core.management.commands.db_grants import grant_statements

    role = "minqing_test_runtime_role"
    with connection.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {role}")
        cur.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        with connection.cursor() as cur:
            for sql in grant_statements(
                role, owner=None, database=connection.settings_dict["NAME"]
            ):
                if not sql.startswith("--"):
                    cur.execute(sql)
        event = audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
        with connection.cursor() as cur:
            cur.execute(f"SET ROLE {role}")
            cur.execute("UPDATE areas_area SET name = name WHERE id = %s", [tree.qixing.pk])
            cur.execute("SELECT count(*) FROM core_auditevent")
            audit_record(actor=users.cadre, action="test.read", obj=tree.qixing)
            for sql in (
                "UPDATE core_auditevent SET action = 'x' WHERE id = %s",
                "DELETE FROM core_auditevent WHERE id = %s",
                "TRUNCATE core_auditevent",
                "ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only",
            ):
                with pytest.raises(DatabaseError, match="permission denied|must be owner"):
                    with transaction.atomic():
                        cur.execute(sql, [event.pk] if "%s" in sql else None)
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET ROLE")
            cur.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
            cur.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
            cur.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")
            cur.execute(
                f"REVOKE ALL ON DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} FROM {role}"
            )
            cur.execute(f"DROP ROLE {role}")


def test_audit_page_walks_the_log_by_position_without_counting_it(client, users, tree, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from minqing.core import views

    for i in range(7):
        audit_record(actor=users.cadre, action="area.rename", obj=tree.qixing, detail={"n": i})
    audit_record(actor=users.outsider, action="area.rename", obj=tree.helingcun)
    login(client, users.supervisor)
    expected = list(
        AuditEvent.objects.visible_to(users.supervisor)
        .order_by("-at", "-id")
        .values_list("pk", flat=True)
    )
    size = 3
    seen, url_params, pages = [], {}, 0
    monkeypatch.setattr(views, "AUDIT_PAGE", size)
    while True:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/core/audit/", url_params)
        assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
        events = response.context["events"]
        assert len(events) <= size
        seen += [e.pk for e in events]
        pages += 1
        if not response.context["older"]:
            break
        url_params = {"before": response.context["older"]}
    assert seen == expected and pages == -(-len(expected) // size)
    # and back: the newer page of the last one is the one before it
    newer = client.get("/core/audit/", {"after": response.context["newer"]}).context
    assert [e.pk for e in newer["events"]] == expected[(pages - 2) * size : (pages - 1) * size]
    bad = client.get("/core/audit/", {"before": "x.1", "after": "99999999999999999999.1"})
    assert bad.status_code == 200  # a malformed position is the newest page


def test_audit_area_filter_offers_the_jurisdiction_children_not_every_area(client, users, tree):
    login(client, users.supervisor)  # 昭山示范区
    page = client.get("/core/audit/").content.decode()
    assert "昭山镇" in page and "鹤岭镇" in page
    assert "七星村" not in page.split('name="area"')[1].split("</select>")[0]
    page = client.get("/core/audit/", {"area": tree.zhaoshan.pk}).content.decode()
    select = page.split('name="area"')[1].split("</select>")[0]
    assert "七星村" in select and "昭山村" in select and "鹤岭村" not in select


@pytest.mark.django_db
def test_one_index_leads_with_the_actor():
    """Every audit row writes each index: the actor is led by audit_actor_idx alone (the
    foreign key's own index was the same column again)."""
    with connection.cursor() as cur:
        indexes = connection.introspection.get_constraints(cur, AuditEvent._meta.db_table)
    leading = sorted(
        name for name, c in indexes.items() if c["index"] and c["columns"][:1] == ["actor_id"]
    )
    assert leading == ["audit_actor_idx"]
