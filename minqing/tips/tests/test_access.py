"""Who reads a tip: political-legal officers covering its handling area, minus conflicts.
Everyone else (supervisors, admins, superusers too) is refused on page, API, export and
admin, and sees counts only."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from minqing.accounts.tests.factories import UserFactory
from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.core.roles import Role
from minqing.tips import services
from minqing.tips.models import Tip

OTHER_ROLES = ["grid", "cadre", "township", "dept", "leader", "supervisor", "admin", "outsider"]


@pytest.fixture
def tip(file_tip):
    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.4\nx", content_type="application/pdf")
    return file_tip(content="保密的线索正文", files=[pdf], identity={"name": "甲"}).tip


def _urls(tip):
    att = tip.attachments.get()
    return [
        ("get", "/tips/"),
        ("get", f"/tips/{tip.pk}/"),
        ("get", f"/tips/{tip.pk}/attachments/{att.pk}/"),
        ("get", "/tips/export.xlsx"),
        ("get", "/tips/new/"),
        ("get", "/tips/custody/"),
        ("post", f"/tips/{tip.pk}/transition/"),
        ("post", f"/tips/{tip.pk}/note/"),
        ("post", f"/tips/{tip.pk}/identity/"),
        ("get", "/api/tips/"),
        ("get", f"/api/tips/{tip.pk}"),
        ("get", f"/api/tips/{tip.pk}/identity"),
        ("post", f"/api/tips/{tip.pk}/transition"),
        ("post", f"/api/tips/{tip.pk}/notes"),
        ("get", "/admin/tips/tip/"),
        ("get", f"/admin/tips/tip/{tip.pk}/change/"),
        ("get", "/admin/tips/tipidentity/"),
    ]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_every_other_role_is_refused_everywhere(client, users, tip, role):
    user = getattr(users, role)
    login(client, user)
    for method, url in _urls(tip):
        if method == "get":
            response = client.get(url)
        else:
            response = (
                client.post(url, {"action": "verify", "body": "x"}, content_type="application/json")
                if url.startswith("/api/")
                else client.post(url, {"action": "verify", "body": "x"})
            )
        assert response.status_code in (302, 403, 404), (url, response.status_code)
        assert "保密的线索正文" not in response.content.decode(errors="ignore"), url
    assert Tip.objects.get().state == "received"
    assert not tip.notes.exists()
    assert not AuditEvent.objects.filter(action__in=["tips.read", "tips.list"]).exists()


def test_superuser_is_refused_too(client, tree, tip):
    root = UserFactory(
        username="root", role=Role.ADMIN, is_superuser=True, is_staff=True, areas=[tree.city]
    )
    login(client, root)
    for method, url in _urls(tip):
        if method == "get":
            response = client.get(url)
            assert response.status_code in (403, 404), url
            assert "保密的线索正文" not in response.content.decode(errors="ignore")
    assert Tip.objects.visible_to(root).count() == 0


def test_counts_are_open_to_every_role(client, users, tip):
    for role in OTHER_ROLES[:-1] + ["zhengfa"]:
        login(client, getattr(users, role))
        response = client.get("/tips/stats/")
        assert response.status_code == 200, role
        assert "保密的线索正文" not in response.content.decode()
        body = client.get("/api/tips/stats").json()
        # counts of the viewer's own jurisdiction: a grid worker's grid holds none
        assert body["total"] == (0 if role == "grid" else 1), role
        assert "保密" not in str(body)


def test_officer_outside_the_area_gets_404(client, officers, tip):
    login(client, officers.hl)
    assert client.get(f"/tips/{tip.pk}/").status_code == 404
    assert client.get(f"/api/tips/{tip.pk}").status_code == 404
    assert client.get("/api/tips/").json()["count"] == 0


def test_every_read_is_audited(client, officers, tip):
    login(client, officers.zs)
    att = tip.attachments.get()
    assert client.get(f"/tips/{tip.pk}/").status_code == 200
    assert client.get(f"/api/tips/{tip.pk}").json()["content"] == "保密的线索正文"
    assert client.get(f"/tips/{tip.pk}/attachments/{att.pk}/").status_code == 200
    assert client.get("/tips/").status_code == 200
    assert client.get("/api/tips/").status_code == 200
    assert client.get("/tips/export.xlsx").status_code == 200
    reads = AuditEvent.objects.filter(actor=officers.zs)
    assert reads.filter(action="tips.read", target_id=str(tip.pk)).count() == 2
    assert reads.filter(action="tips.attachment_read").count() == 1
    assert reads.filter(action="tips.list").count() == 3


def test_named_officer_is_excluded(client, officers, file_tip):
    tip = file_tip(people_named="镇上的吴镇政法也参与了").tip
    assert Tip.objects.visible_to(officers.zs).count() == 0
    assert Tip.objects.visible_to(officers.county).count() == 1
    login(client, officers.zs)
    assert client.get(f"/tips/{tip.pk}/").status_code == 404
    assert client.get(f"/api/tips/{tip.pk}").status_code == 404


def test_tip_naming_a_village_cadre_goes_to_the_township(users, officers, tree, file_tip):
    users.cadre.last_name, users.cadre.first_name = "王", "村官"
    users.cadre.save()
    village_officer = UserFactory(
        username="zf_village", role=Role.POLITICAL_LEGAL, areas=[tree.qixing]
    )
    tip = file_tip(area=tree.qixing, content="王村官强占鱼塘").tip
    assert tip.area == tree.qixing and tip.handling_area == tree.zhaoshan
    assert Tip.objects.visible_to(village_officer).count() == 0
    assert Tip.objects.visible_to(officers.zs).count() == 1
    assert tip.conflicts.filter(officer=users.cadre).exists()
    plain = file_tip(area=tree.qixing, content="有人赌博").tip
    assert plain.handling_area == tree.qixing
    assert Tip.objects.visible_to(village_officer).count() == 1


def test_conflict_marking_hides_the_tip_from_that_officer(client, officers, tip):
    login(client, officers.county)
    response = client.post(
        f"/tips/{tip.pk}/conflict/", {"officer": officers.zs.pk, "reason": "与被举报人是亲属"}
    )
    assert response.status_code == 302
    assert Tip.objects.visible_to(officers.zs).count() == 0
    login(client, officers.zs)
    assert client.get(f"/tips/{tip.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="tips.conflict", actor=officers.county).exists()
    # and an excluded officer cannot be made handler
    with pytest.raises(services.ValidationFailed):
        services.tip_assign(actor=officers.county, tip=tip, handler_id=officers.zs.pk)


def test_officer_without_second_factor_is_stopped(client, officers, tip):
    login(client, officers.zs, second_factor=False)
    response = client.get(f"/tips/{tip.pk}/")
    assert response.status_code == 302 and "/accounts/otp/" in response["Location"]
    assert client.get(f"/api/tips/{tip.pk}").status_code == 403
    assert not AuditEvent.objects.filter(action="tips.read").exists()


def test_list_query_count_is_pinned(client, officers, file_tip, django_assert_max_num_queries):
    for _ in range(5):
        file_tip()
    login(client, officers.county)
    with django_assert_max_num_queries(14):
        assert client.get("/api/tips/").json()["count"] == 5
    with django_assert_max_num_queries(16):
        assert client.get("/tips/").status_code == 200


def test_admin_does_not_show_totp_secrets(client, users, officers):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=officers.zs, name="phone", confirmed=True)
    root = UserFactory(username="root2", role=Role.ADMIN, is_superuser=True, is_staff=True)
    client.force_login(root)
    listing = client.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in page and "otpauth" not in page


def test_admin_manages_categories_only(client, users):
    login(client, users.admin)
    assert client.get("/admin/tips/tipcategory/").status_code == 200
    assert client.get("/admin/tips/").status_code == 200
    for name in ("tip", "tipidentity", "tipnote", "tipmessage", "tipattachment", "tipevent"):
        assert client.get(f"/admin/tips/{name}/").status_code == 404


def test_home_panel_for_officers_only(client, users, officers, file_tip):
    file_tip()
    login(client, officers.county)
    html = client.get("/").content.decode()
    assert "在办线索" in html
    login(client, users.supervisor)
    assert "在办线索" not in client.get("/").content.decode()
