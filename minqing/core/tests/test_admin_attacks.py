"""The back office cannot be used to escalate: a township administrator (not superuser)
attacks it the way the probe did. Every attempt is refused and nothing changes."""

import pytest
from django.contrib import admin as django_admin

from minqing.accounts.models import Jurisdiction, Unit, User
from minqing.accounts.services import user_set_jurisdiction, user_set_role
from minqing.accounts.tests.factories import UserFactory
from minqing.areas.models import Area
from minqing.core.admin import is_sensitive_lookup
from minqing.core.errors import PermissionDeniedError
from minqing.core.models import AuditEvent
from minqing.core.roles import Role
from minqing.registry.models import Place
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory


@pytest.fixture
def tadmin(tree):
    return UserFactory(username="tadmin", role=Role.ADMIN, is_staff=True, areas=[tree.zhaoshan])


@pytest.fixture
def as_tadmin(client, tadmin):
    client.force_login(tadmin)
    return client


def user_form(user, **changes):
    """The POST the admin's change form sends for `user`, with changes."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": "",
        "is_active": "on",
        "unit": "",
        "phone": user.phone,
        "jurisdictions-TOTAL_FORMS": "0",
        "jurisdictions-INITIAL_FORMS": "0",
        "jurisdictions-MIN_NUM_FORMS": "0",
        "jurisdictions-MAX_NUM_FORMS": "1000",
    }
    rows = list(user.jurisdictions.all())
    for i, j in enumerate(rows):
        data[f"jurisdictions-{i}-id"] = str(j.pk)
        data[f"jurisdictions-{i}-user"] = str(user.pk)
        data[f"jurisdictions-{i}-area"] = str(j.area_id)
    data["jurisdictions-TOTAL_FORMS"] = data["jurisdictions-INITIAL_FORMS"] = str(len(rows))
    data.update(changes)
    return data


def test_it_cannot_make_itself_superuser(as_tadmin, tadmin):
    url = f"/admin/accounts/user/{tadmin.pk}/change/"
    page = as_tadmin.get(url).content.decode()
    assert 'name="is_superuser"' not in page and 'name="role"' not in page
    as_tadmin.post(
        url,
        user_form(
            tadmin, is_superuser="on", is_staff="on", role=Role.ADMIN, user_permissions=["1"]
        ),
    )
    tadmin.refresh_from_db()
    assert not tadmin.is_superuser and tadmin.user_permissions.count() == 0


def test_it_cannot_grant_itself_the_city(as_tadmin, tadmin, tree):
    url = f"/admin/accounts/user/{tadmin.pk}/change/"
    data = user_form(tadmin)
    data["jurisdictions-0-area"] = str(tree.city.pk)
    response = as_tadmin.post(url, data)
    assert response.status_code == 200  # the form comes back with an error
    assert list(tadmin.jurisdictions.values_list("area", flat=True)) == [tree.zhaoshan.pk]
    # and the service refuses it too, whoever calls it
    with pytest.raises(PermissionDeniedError):
        user_set_jurisdiction(actor=tadmin, user=tadmin, areas=[tree.city])
    assert not AuditEvent.objects.filter(action="user.jurisdiction").exists()


def test_jurisdiction_changes_go_through_the_service_and_are_audited(as_tadmin, users, tree):
    url = f"/admin/accounts/user/{users.cadre.pk}/change/"
    data = user_form(users.cadre)
    data["jurisdictions-0-area"] = str(tree.zhaoshancun.pk)
    response = as_tadmin.post(url, data)
    assert response.status_code == 302
    assert list(users.cadre.jurisdictions.values_list("area", flat=True)) == [tree.zhaoshancun.pk]
    event = AuditEvent.objects.get(action="user.jurisdiction")
    assert event.detail == {"from": [tree.qixing.code], "to": [tree.zhaoshancun.code]}
    assert event.area == tree.zhaoshancun


def test_users_partly_outside_or_superusers_are_not_its_to_edit(as_tadmin, tadmin, tree):
    straddler = UserFactory(
        username="straddler", role=Role.LEADER, areas=[tree.qixing, tree.helingcun]
    )
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True, areas=[tree.qixing])
    for victim in (straddler, boss):
        assert as_tadmin.get(f"/admin/accounts/user/{victim.pk}/change/").status_code == 302
        assert as_tadmin.get(f"/admin/accounts/user/{victim.pk}/password/").status_code == 404
        response = as_tadmin.post(
            f"/admin/accounts/user/{victim.pk}/password/",
            {"password1": "Takeover-2024!", "password2": "Takeover-2024!"},
        )
        assert response.status_code == 404
        victim.refresh_from_db()
        assert victim.check_password("pw-for-tests")
    with pytest.raises(PermissionDeniedError):
        user_set_role(actor=tadmin, user=straddler, role=Role.GRID_WORKER)
    with pytest.raises(PermissionDeniedError):
        user_set_jurisdiction(actor=tadmin, user=straddler, areas=[tree.qixing])


def test_a_superuser_changes_roles_through_the_service(client, users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    client.force_login(users.admin)
    url = f"/admin/accounts/user/{users.cadre.pk}/change/"
    response = client.post(url, user_form(users.cadre, role=Role.TOWNSHIP_STAFF))
    assert response.status_code == 302
    users.cadre.refresh_from_db()
    assert users.cadre.role == Role.TOWNSHIP_STAFF
    event = AuditEvent.objects.get(action="user.role")
    assert event.detail == {"from": Role.VILLAGE_CADRE, "to": Role.TOWNSHIP_STAFF}
    assert event.area == tree.qixing


def test_it_cannot_file_records_outside_its_area(as_tadmin, tree):
    outside = tree.grids["鹤岭村1"]
    before = (Place.objects.count(), Unit.objects.count(), Area.objects.count())
    response = as_tadmin.post(
        "/admin/registry/place/add/", {"name": "黑网吧", "kind": "shop", "grid": outside.pk}
    )
    assert response.status_code == 200 and "errornote" in response.content.decode()
    response = as_tadmin.post(
        "/admin/accounts/unit/add/",
        {"name": "假派出所", "kind": "police_station", "area": tree.heling.pk, "phone": ""},
    )
    assert response.status_code == 200
    response = as_tadmin.post(
        "/admin/areas/area/add/",
        {"level": 4, "code": "430372101299", "name": "假村", "parent": tree.heling.pk},
    )
    assert response.status_code == 200
    assert (Place.objects.count(), Unit.objects.count(), Area.objects.count()) == before


def test_records_inside_its_area_go_through_the_services(as_tadmin, tree):
    inside = tree.grids["七星村1"]
    response = as_tadmin.post(
        "/admin/registry/place/add/", {"name": "七星超市", "kind": "shop", "grid": inside.pk}
    )
    assert response.status_code == 302
    place = Place.objects.get(name="七星超市")
    assert AuditEvent.objects.filter(action="registry.place.create", target_id=str(place.pk))
    # the service's rules apply: a bad phone is refused with its message
    response = as_tadmin.post(
        "/admin/registry/place/add/",
        {"name": "七星药店", "kind": "shop", "grid": inside.pk, "contact_phone": "12"},
    )
    assert response.status_code == 200 and not Place.objects.filter(name="七星药店").exists()
    # changes go through place_update: audited; a grid outside the jurisdiction is refused
    url = f"/admin/registry/place/{place.pk}/change/"
    response = as_tadmin.post(url, {"name": "七星便民超市", "kind": "shop", "grid": inside.pk})
    assert response.status_code == 302
    place.refresh_from_db()
    assert place.name == "七星便民超市"
    event = AuditEvent.objects.get(action="registry.place.update", target_id=str(place.pk))
    assert event.detail == {"name": ["七星超市", "七星便民超市"]}
    outside = tree.grids["鹤岭村1"].pk
    response = as_tadmin.post(url, {"name": "搬走", "kind": "shop", "grid": outside})
    assert response.status_code == 200
    place.refresh_from_db()
    assert (place.name, place.grid_id) == ("七星便民超市", inside.pk)


def test_areas_are_renamed_through_the_service(as_tadmin, tree):
    response = as_tadmin.post(f"/admin/areas/area/{tree.qixing.pk}/change/", {"name": "七星新村"})
    assert response.status_code == 302
    tree.qixing.refresh_from_db()
    assert tree.qixing.name == "七星新村"
    assert AuditEvent.objects.get(action="area.rename").detail == {
        "from": "七星村",
        "to": "七星新村",
    }


@pytest.mark.parametrize(
    "query",
    [
        "id_number__startswith=4303",
        "id_number=430302198808081234",
        "phone__startswith=138",
        "household__phone__endswith=5678",
        "id_tail=1234",
    ],
)
def test_no_lookup_rebuilds_an_id_or_phone(as_tadmin, tree, query):
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-1")
    ResidentFactory(household=household, name="张德书")
    response = as_tadmin.get(f"/admin/registry/resident/?{query}")
    assert response.status_code == 400


def test_no_admin_searches_or_filters_id_or_phone_fields():
    for model, model_admin in django_admin.site._registry.items():
        for field in (*model_admin.search_fields, *model_admin.list_filter):
            name = field if isinstance(field, str) else getattr(field, "parameter_name", "")
            assert not is_sensitive_lookup(name.lstrip("^=@")), (model, field)


def test_every_foreign_key_choice_is_scoped(rf, tadmin, tree):
    """Every registered admin's foreign keys offer only rows inside the jurisdiction."""
    request = rf.get("/")
    request.user = tadmin
    checked = 0
    for model, model_admin in django_admin.site._registry.items():
        for field in model._meta.get_fields():
            if field.many_to_one and field.concrete and field.related_model is Area:
                formfield = model_admin.formfield_for_foreignkey(field, request)
                if formfield is None:
                    continue
                assert tree.heling not in formfield.queryset, (model, field.name)
                assert tree.city not in formfield.queryset, (model, field.name)
                checked += 1
    assert checked >= 4  # area parent, unit area, place grid, organisation grid, ...


def test_inline_changes_are_audited(client, users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    client.force_login(users.admin)
    data = user_form(users.grid)
    data["jurisdictions-0-area"] = str(tree.grids["七星村2"].pk)
    data["role"] = Role.GRID_WORKER
    response = client.post(f"/admin/accounts/user/{users.grid.pk}/change/", data)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="user.jurisdiction", target_id=str(users.grid.pk))
    assert Jurisdiction.objects.get(user=users.grid).area == tree.grids["七星村2"]
    assert User.objects.get(pk=users.grid.pk).role == Role.GRID_WORKER


def test_generic_inline_rows_are_audited(rf, users, tree):
    """AuditedAdmin.save_formset: every added, changed and deleted inline row is an event."""
    from django.contrib.admin import site
    from django.forms import inlineformset_factory

    from minqing.core.admin import AuditedAdmin

    kept = Unit.objects.create(name="七星村委会", kind="village_committee", area=tree.qixing)
    gone = Unit.objects.create(name="旧村委会", kind="village_committee", area=tree.qixing)
    formset_class = inlineformset_factory(Area, Unit, fields=("name", "kind"), extra=1)
    prefix = formset_class.get_default_prefix()
    data = {
        f"{prefix}-TOTAL_FORMS": "3",
        f"{prefix}-INITIAL_FORMS": "2",
        f"{prefix}-0-id": str(kept.pk),
        f"{prefix}-0-name": "七星村民委员会",
        f"{prefix}-0-kind": "village_committee",
        f"{prefix}-1-id": str(gone.pk),
        f"{prefix}-1-name": "旧村委会",
        f"{prefix}-1-kind": "village_committee",
        f"{prefix}-1-DELETE": "on",
        f"{prefix}-2-name": "七星村调解委员会",
        f"{prefix}-2-kind": "other",
    }
    formset = formset_class(data, instance=tree.qixing, queryset=Unit.objects.order_by("pk"))
    assert formset.is_valid(), formset.errors
    request = rf.post("/")
    request.user = users.admin
    AuditedAdmin(Area, site).save_formset(request, None, formset, change=True)
    actions = sorted(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["admin.inline.add", "admin.inline.change", "admin.inline.delete"]
    assert AuditEvent.objects.get(action="admin.inline.delete").detail["object"] == "旧村委会"
