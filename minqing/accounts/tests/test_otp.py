"""Second factor for political-legal officers: enrol once, then a TOTP code after the
password on every login; other roles are not affected."""

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from minqing.core.models import AuditEvent


def _unthrottle(device) -> None:
    """django-otp delays the next try after a wrong code; the test does not wait."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )


def _code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_officer_is_sent_to_enrol_then_verified(client, users):
    client.force_login(users.zhengfa)
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/otp/verify/" in response["Location"]
    assert client.get("/api/registry/households").status_code == 403
    response = client.get("/accounts/otp/verify/")
    assert response.status_code == 302 and "/accounts/otp/setup/" in response["Location"]
    page = client.get("/accounts/otp/setup/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=users.zhengfa, confirmed=False)
    assert client.post("/accounts/otp/setup/", {"token": "000000"}).status_code == 200
    _unthrottle(device)
    response = client.post("/accounts/otp/setup/", {"token": _code(device), "next": "/"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="accounts.otp_enrol").exists()


def test_enrolled_officer_must_type_the_code_after_the_password(client, users):
    device = TOTPDevice.objects.create(user=users.zhengfa, name="phone", confirmed=True)
    assert (
        client.post("/login/", {"username": "zhengfa", "password": "pw-for-tests"}).status_code
        == 302
    )
    assert client.get("/tips/").status_code == 302
    # cannot replace the device without passing it first
    assert client.get("/accounts/otp/setup/")["Location"].startswith("/accounts/otp/verify/")
    response = client.post("/accounts/otp/verify/", {"token": "123456"})
    assert "验证码不对" in response.content.decode()
    _unthrottle(device)
    response = client.post("/accounts/otp/verify/", {"token": _code(device), "next": "/tips/"})
    assert response.status_code == 302 and response["Location"] == "/tips/"
    assert client.get("/tips/").status_code == 200


def test_other_roles_need_no_second_factor(client, users):
    client.force_login(users.supervisor)
    assert client.get("/").status_code == 200


def test_next_cannot_leave_the_site(client, users):
    device = TOTPDevice.objects.create(user=users.zhengfa, name="phone", confirmed=True)
    client.force_login(users.zhengfa)
    response = client.post(
        "/accounts/otp/verify/", {"token": _code(device), "next": "//evil.example/"}
    )
    assert response["Location"] == "/"
