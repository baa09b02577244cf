"""An administrator creates staff accounts on a page and through the API: inside their
jurisdiction only, areas named as people name them, and the owner changes the first password."""

import re

import pytest
from django.test import Client

from minqing.accounts.models import Unit, User
from minqing.accounts.services import unit_create
from minqing.accounts.tests.factories import UserFactory
from minqing.areas.models import Level
from minqing.areas.tests.factories import make_area
from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.core.roles import Role

PASSWORD = "qixing-cun-2026!"


@pytest.fixture
def tadmin(tree):
    return UserFactory(username="tadmin", role=Role.ADMIN, areas=[tree.zhaoshan])


def form(**kw):
    data = {
        "username": "wangxm",
        "full_name": "王小梅",
        "role": Role.VILLAGE_CADRE,
        "areas": "七星村",
        "unit": "",
        "phone": "",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    data.update(kw)
    return data


def test_a_township_administrator_creates_a_village_cadre_who_must_change_the_password(
    client, tadmin, tree
):
    login(client, tadmin)
    assert "新建账号" in client.get("/accounts/").content.decode()
    response = client.post("/accounts/new/", form(phone="138 0732 1234", areas="430372100201"))
    assert response.status_code == 302
    user = User.objects.get(username="wangxm")
    assert user.role == Role.VILLAGE_CADRE and user.must_change_password
    assert [j.area for j in user.jurisdictions.all()] == [tree.qixing]
    assert user.phone == "13807321234" and str(user) == "王小梅"
    assert AuditEvent.objects.filter(action="user.create", target_id=str(user.pk)).exists()
    # the new cadre: every page and the API lead to the password change first
    own = Client()
    signed_in = own.post("/login/", {"username": "wangxm", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert own.get("/").url == "/accounts/password/"
    assert own.get("/registry/households/").url == "/accounts/password/"
    api = own.get("/api/core/me")
    assert api.status_code == 403 and api.json()["code"] == "password_change_required"
    assert own.get("/", HTTP_HX_REQUEST="true").status_code == 403
    page = own.get("/accounts/password/")
    assert page.status_code == 200 and "初始密码" in page.content.decode()
    changed = own.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "my-own-secret-77",
            "new_password2": "my-own-secret-77",
        },
    )
    assert changed.status_code == 302
    user.refresh_from_db()
    assert not user.must_change_password
    assert own.get("/").status_code == 200


@pytest.mark.parametrize(
    "change, message",
    [
        ({"areas": "鹤岭村"}, "没有区域“鹤岭村”"),  # another township's village, by name
        ({"areas": "430372101201"}, "没有区域“430372101201”"),  # ... and by code
        ({"areas": "七星村、湘潭市"}, "没有区域“湘潭市”"),  # above one's jurisdiction
        (
            {"role": Role.ADMIN},
            "admin 不在可用的选项中",
        ),  # not offered: only a superuser makes administrators
        ({"unit": "鹤岭镇政府"}, "没有单位“鹤岭镇政府”"),  # a unit elsewhere, not revealed
        ({"password2": "another-pass-1"}, "两次输入的密码不一致"),
        ({"password1": "12345678", "password2": "12345678"}, "密码只包含数字"),
        ({"phone": "12345"}, "电话号码格式不对"),
        ({"areas": " 、 "}, "请填写管辖区域"),
        ({"username": "cadre"}, "已被使用"),
    ],
)
def test_bad_or_forged_input_creates_nothing(client, tadmin, users, tree, change, message):
    unit_create(actor=users.admin, name="鹤岭镇政府", kind="government", area=tree.heling)
    login(client, tadmin)
    before = User.objects.count()
    response = client.post("/accounts/new/", form(**change))
    assert response.status_code in (400, 409)
    errors = re.findall(r'class="error"[^>]*>([^<]*)<', response.content.decode())
    assert any(message in e for e in errors), errors
    assert User.objects.count() == before


def test_a_name_several_areas_share_is_not_guessed(client, tadmin, tree):
    make_area(parent=tree.qixing, level=Level.GRID, code="430372100201009", name="新屋组")
    make_area(parent=tree.zhaoshancun, level=Level.GRID, code="430372100202009", name="新屋组")
    login(client, tadmin)
    html = client.post("/accounts/new/", form(areas="新屋组")).content.decode()
    assert "有 2 个同名区域" in html and "430372100201009" in html and "430372100202009" in html
    assert not User.objects.filter(username="wangxm").exists()
    # full-width code digits are the same code
    response = client.post("/accounts/new/", form(areas="４３０３７２１００２０１００９"))
    assert response.status_code == 302


def test_a_unit_in_the_jurisdiction_is_offered_and_taken_by_name(client, tadmin, users, tree):
    unit_create(actor=users.admin, name="七星村委会", kind="committee", area=tree.qixing)
    login(client, tadmin)
    assert '<option value="七星村委会">' in client.get("/accounts/new/").content.decode()
    assert client.post("/accounts/new/", form(unit="七星村委会")).status_code == 302
    assert User.objects.get(username="wangxm").unit == Unit.objects.get(name="七星村委会")


def test_only_administrators_may_create_accounts(client, users):
    for user in (users.cadre, users.township, users.leader):
        login(client, user)
        assert client.get("/accounts/new/").status_code == 403
        assert client.post("/accounts/new/", form()).status_code == 403
        response = client.post("/api/accounts/staff", api_body(), content_type="application/json")
        assert response.status_code == 403
    assert not User.objects.filter(username="wangxm").exists()


def api_body(**kw):
    body = {
        "username": "wangxm",
        "full_name": "王小梅",
        "role": Role.GRID_WORKER,
        "areas": ["七星村第1网格"],
        "password": PASSWORD,
    }
    body.update(kw)
    return body


def test_the_api_creates_and_refuses_like_the_page(client, tadmin, tree):
    login(client, tadmin)
    response = client.post("/api/accounts/staff", api_body(), content_type="application/json")
    assert response.status_code == 201
    assert response.json()["areas"] == ["七星村第1网格"] and response.json()["name"] == "王小梅"
    assert User.objects.get(username="wangxm").must_change_password
    again = client.post("/api/accounts/staff", api_body(), content_type="application/json")
    assert again.status_code == 409
    outside = client.post(
        "/api/accounts/staff",
        api_body(username="x2", areas=["鹤岭村第1网格"]),
        content_type="application/json",
    )
    assert outside.status_code == 400 and "没有区域" in outside.json()["detail"]
    listed = client.get("/api/accounts/staff?q=wangxm").json()
    assert listed["count"] == 1 and listed["items"][0]["role_label"]


def test_a_password_an_administrator_sets_in_the_back_office_is_a_first_password_again(
    client, tree, users
):
    tadmin = UserFactory(username="tadmin2", role=Role.ADMIN, is_staff=True, areas=[tree.zhaoshan])
    client.force_login(tadmin)
    response = client.post(
        f"/admin/accounts/user/{users.cadre.pk}/password/",
        {"password1": "Reset-by-admin-42", "password2": "Reset-by-admin-42"},
    )
    assert response.status_code == 302
    users.cadre.refresh_from_db()
    assert users.cadre.check_password("Reset-by-admin-42") and users.cadre.must_change_password
    assert AuditEvent.objects.filter(
        action="auth.password_set", target_id=str(users.cadre.pk)
    ).exists()


def test_an_account_a_superuser_adds_in_the_back_office_changes_its_password_first(client, users):
    users.admin.is_superuser = True
    users.admin.save()
    client.force_login(users.admin)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "liu",
            "password1": "Given-by-root-42",
            "password2": "Given-by-root-42",
            "usable_password": "true",
            "jurisdictions-TOTAL_FORMS": "0",
            "jurisdictions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, re.findall(
        r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S
    )
    assert User.objects.get(username="liu").must_change_password
