import pytest
from django.core.management import call_command

from minqing.conftest import login


def test_login_page_and_login(client, users):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "cadre", "password": "pw-for-tests"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_password_is_refused(client, users):
    response = client.post("/login/", {"username": "cadre", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码不对" in response.content.decode()


def test_home_shows_area_and_role(client, users, tree):
    login(client, users.cadre)
    page = client.get("/").content.decode()
    assert "七星村" in page and "村干部" in page
    assert "昭山镇 ›" in page  # the breadcrumb above the village


def test_home_in_traditional_chinese_and_english(client, users, tree):
    login(client, users.cadre)
    client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/"})
    assert 'lang="zh-hant"' in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert 'lang="en"' in client.get("/").content.decode()


def test_nav_shows_only_what_the_role_may_use(client, users, tree):
    login(client, users.cadre)
    assert "/core/audit/" not in client.get("/").content.decode()
    login(client, users.supervisor)
    assert "/core/audit/" in client.get("/").content.decode()


def test_logout(client, users):
    login(client, users.cadre)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_healthz(client, db):
    assert client.get("/healthz").json() == {"ok": True}


def test_openapi_document_lists_the_endpoints(client, users):
    login(client, users.cadre)
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/api/areas/" in paths and "/api/core/audit" in paths and "/api/core/me" in paths


@pytest.mark.django_db
def test_demo_twice_does_not_duplicate():
    from minqing.accounts.models import User
    from minqing.areas.models import Area
    from minqing.core.models import AuditEvent

    call_command("demo", stdout=open("/dev/null", "w"))
    counts = (Area.objects.count(), User.objects.count(), AuditEvent.objects.count())
    call_command("demo", stdout=open("/dev/null", "w"))
    assert (Area.objects.count(), User.objects.count(), AuditEvent.objects.count()) == counts
    assert set(User.objects.values_list("role", flat=True)) >= {
        "grid_worker",
        "village_cadre",
        "township_staff",
        "department_staff",
        "leader",
        "supervisor",
        "political_legal",
        "admin",
    }
    assert Area.objects.get(name="昭山镇").children.count() >= 5


def test_audit_filter_options_written_in_python_escape_and_select():
    from minqing.core.views import _options

    html = _options([("", "全部"), ("a&b", "<甲>"), ("c", "乙")], "a&b")
    assert html == (
        '<option value="">全部</option>'
        '<option value="a&amp;b" selected>&lt;甲&gt;</option>'
        '<option value="c">乙</option>'
    )
    assert 'value="" selected' in _options([("", "全部")], "")
    assert "selected" not in _options([("", "全部")], None)  # no filter given: none chosen
