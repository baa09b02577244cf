"""A tipster's identity: shown to an officer only after a custodian approves that officer's
request with a reason; every step audited."""

import pytest
from django.http import Http404

from minqing.conftest import login
from minqing.core.errors import PermissionDeniedError
from minqing.core.models import AuditEvent
from minqing.tips import services
from minqing.tips.models import IdentityRequest


@pytest.fixture
def tip(file_tip):
    return file_tip(identity={"name": "李举报", "contact": "13912345678"}).tip


def test_request_approve_reveal(client, tip, officers):
    officer = officers.zs
    with pytest.raises(PermissionDeniedError):
        services.identity_reveal(actor=officer, tip=tip)
    login(client, officer)
    assert client.get(f"/api/tips/{tip.pk}/identity").status_code == 403
    response = client.post(
        f"/api/tips/{tip.pk}/identity-requests",
        {"reason": "需当面核实细节"},
        content_type="application/json",
    )
    assert response.status_code == 201
    req = IdentityRequest.objects.get()
    # a second open request is refused
    assert (
        client.post(
            f"/api/tips/{tip.pk}/identity-requests",
            {"reason": "再次"},
            content_type="application/json",
        ).status_code
        == 409
    )
    # the requester cannot decide; an ordinary officer is not a custodian
    with pytest.raises(Http404):
        services.identity_decide(actor=officer, request_id=req.pk, approve=True, note="自批")
    with pytest.raises(Http404):
        services.identity_decide(actor=officers.county, request_id=req.pk, approve=True, note="x")
    login(client, officers.custodian)
    page = client.get("/tips/custody/").content.decode()
    assert "需当面核实细节" in page
    response = client.post(
        "/tips/custody/", {"request": req.pk, "approve": "1", "note": "同意,限本案使用"}
    )
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "approved" and req.custodian == officers.custodian
    login(client, officer)
    body = client.get(f"/api/tips/{tip.pk}/identity").json()
    assert body["name"] == "李举报"
    html = client.post(f"/tips/{tip.pk}/identity/").content.decode()
    assert "13912345678" in html
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    for step in ("tips.identity_request", "tips.identity_approve", "tips.identity_reveal"):
        assert step in actions
    assert actions.count("tips.identity_reveal") == 2
    # another officer is still refused
    with pytest.raises(PermissionDeniedError):
        services.identity_reveal(actor=officers.county, tip=tip)


def test_denied_request_reveals_nothing(tip, officers):
    req = services.identity_request(actor=officers.zs, tip=tip, reason="想知道")
    services.identity_decide(
        actor=officers.custodian, request_id=req.pk, approve=False, note="理由不足"
    )
    with pytest.raises(PermissionDeniedError):
        services.identity_reveal(actor=officers.zs, tip=tip)
    assert AuditEvent.objects.filter(action="tips.identity_deny").exists()


def test_identity_page_shows_nothing_before_approval(client, tip, officers):
    login(client, officers.zs)
    html = client.get(f"/tips/{tip.pk}/").content.decode()
    assert "李举报" not in html and "13912345678" not in html
    assert client.post(f"/tips/{tip.pk}/identity/").status_code == 403
