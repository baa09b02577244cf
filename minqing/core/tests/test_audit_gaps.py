"""The audit log has no gaps and leaks nothing: refused imports and throttled logins are
events; login, failed-login, user and tag events hang on an area so supervisors above see
them; and no event stores a full 身份证号 or phone, whatever the scenario writes."""

import json
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from minqing.accounts.services import user_set_role
from minqing.conftest import login
from minqing.core.errors import Conflict
from minqing.core.idcard import make_id_number
from minqing.core.imports import import_start
from minqing.core.models import AuditEvent
from minqing.core.roles import Role
from minqing.core.views import audit_filter
from minqing.registry import services
from minqing.registry.models import Relation, Tag
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
FULL_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def test_import_failures_and_throttled_logins_are_events_on_an_area(client, settings, users, tree):
    job = import_start(
        actor=users.cadre,
        kind="registry",
        upload=SimpleUploadedFile("台账.csv", "网格,户编号\n1,2\n".encode()),
    )
    event = AuditEvent.objects.get(action="import.failed")
    assert event.actor == users.cadre and event.target_id == str(job.pk)
    assert event.area == tree.qixing

    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(3):
        client.post("/login/", {"username": "cadre", "password": "wrong"})
    refused = AuditEvent.objects.get(action="auth.login_throttled")
    assert refused.area == tree.qixing and refused.detail["username"] == "cadre"
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == 2 and {e.area for e in failed} == {tree.qixing}


def test_login_user_and_tag_events_are_seen_by_the_supervisor(users, tree):
    login(Client(), users.grid)
    users.admin.is_superuser = True
    user_set_role(actor=users.admin, user=users.grid, role=Role.VILLAGE_CADRE)
    services.tag_create(actor=users.admin, code="veteran", name="退役军人")
    events = {
        e.action: e
        for e in AuditEvent.objects.filter(
            action__in=["auth.login", "user.role", "registry.tag.create"]
        )
    }
    assert events["auth.login"].area == tree.grids["七星村1"]
    assert events["user.role"].area == tree.grids["七星村1"]
    assert events["registry.tag.create"].area == tree.city
    # The county supervisor sees the ones in the county; the city-wide tag is the admin's.
    seen = set(audit_filter(users.supervisor, {}).values_list("action", flat=True))
    assert {"auth.login", "user.role"} <= seen
    seen = set(audit_filter(users.admin, {}).values_list("action", flat=True))
    assert "registry.tag.create" in seen
    assert Tag.objects.filter(code="veteran").exists()


def test_no_event_stores_a_full_id_or_phone(client, users, tree, settings):
    """A day of registry work, including every path that handles full numbers; then every
    event's detail and description is scanned."""
    number = make_id_number("430302", date(1980, 3, 16), 121)
    other = make_id_number("430302", date(1975, 7, 1), 33)
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-L1", phone="13700001111")
    login(client, users.cadre)
    api = "/api/registry"
    r = client.post(
        f"{api}/residents",
        {
            "household_id": household.pk,
            "name": "王五",
            "id_number": number,
            "relation": "head",
            "phone": "13912345678",
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    client.patch(
        f"{api}/residents/{pk}",
        {"id_number": other, "phone": "13812340000", "version": 1},
        content_type="application/json",
    )
    client.patch(
        f"{api}/households/{household.pk}",
        {"phone": "13600002222", "notes": f"户主手机 13600002222,身份证 {other}", "version": 1},
        content_type="application/json",
    )
    client.post(f"{api}/residents/{pk}/reveal-id")
    client.post(f"{api}/residents/{pk}/reveal-phone")
    client.get(f"{api}/residents", {"q": other})
    client.get(f"{api}/households", {"q": "13812340000"})
    assert client.get("/registry/export/residents.xlsx", {"q": other}).status_code == 200
    client.get(f"{api}/export/households.xlsx", {"q": "13812340000"})
    # A conflict outside the jurisdiction, and an import full of numbers that fails.
    far = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-L1")
    ResidentFactory(household=far, relation=Relation.HEAD, id_number=number)
    with pytest.raises(Conflict):
        services.resident_create(actor=users.cadre, household=household, name="x", id_number=number)
    import_start(
        actor=users.cadre,
        kind="registry",
        upload=SimpleUploadedFile(
            "台账.csv",
            (
                "网格,户编号,住址,姓名,身份证号,与户主关系,手机号\n"
                f"430372100201001,QX-L9,七星村,赵六,{other},户主,13811112222\n"
            ).encode(),
        ),
    )
    Client().post("/login/", {"username": "13912345678", "password": "x"})

    events = list(AuditEvent.objects.all())
    assert len(events) >= 8
    actions = {e.action for e in events}
    assert {"registry.export", "registry.identity_lookup", "import.failed"} <= actions
    for event in events:
        text = json.dumps(event.detail, ensure_ascii=False) + " " + event.target_repr
        assert not FULL_ID.search(text), (event.action, text)
        assert not FULL_MOBILE.search(text), (event.action, text)
    export = AuditEvent.objects.get(action="registry.export", detail__kind="residents")
    assert export.detail["filters"]["q"] == "430302" + "*" * 12
