"""Password rules and changing one's own password."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from minqing.accounts.tests.factories import UserFactory
from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.core.roles import Role


@pytest.fixture
def zhang(db):
    return UserFactory(username="zhangsan", role=Role.GRID_WORKER, phone="13812345678")


@pytest.mark.parametrize(
    "password",
    [
        "20240601123",  # digits only
        "13912345678",  # a phone number
        "+86 139-1234-5678",
        "my13812345678",  # contains the user's own phone
        "zhangsan2024!",  # contains the username
        "ZhangSan@Home",
    ],
)
def test_weak_passwords_are_refused(zhang, password):
    with pytest.raises(ValidationError):
        validate_password(password, zhang)


def test_a_good_password_passes(zhang):
    validate_password("qing-shan-lu-7", zhang)


def test_users_change_their_own_password_from_the_menu(client, zhang):
    login(client, zhang)
    menu = client.get("/").content.decode().split('<nav class="nav"')[1].split("</nav>")[0]
    assert 'href="/accounts/password/"' in menu and 'href="/accounts/tokens/"' in menu
    page = client.post(
        "/accounts/password/",
        {
            "old_password": "pw-for-tests",
            "new_password1": "13812345678",
            "new_password2": "13812345678",
        },
    )
    assert page.status_code == 200 and "手机号" in page.content.decode()
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "pw-for-tests",
            "new_password1": "qing-shan-lu-7",
            "new_password2": "qing-shan-lu-7",
        },
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.check_password("qing-shan-lu-7")
    assert AuditEvent.objects.filter(action="auth.password_change", actor=zhang).exists()
    # still logged in (the session hash was updated)
    assert client.get("/").status_code == 200


def test_the_wrong_old_password_changes_nothing(client, zhang):
    login(client, zhang)
    client.post(
        "/accounts/password/",
        {
            "old_password": "guess",
            "new_password1": "qing-shan-lu-7",
            "new_password2": "qing-shan-lu-7",
        },
    )
    zhang.refresh_from_db()
    assert zhang.check_password("pw-for-tests")
