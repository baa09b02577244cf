import pytest

from minqing.accounts.models import User
from minqing.accounts.services import user_create, user_set_role
from minqing.conftest import login
from minqing.core.errors import Conflict, PermissionDeniedError, ValidationFailed
from minqing.core.models import AuditEvent
from minqing.core.roles import Role


@pytest.fixture
def admin(users, tree):
    users.admin.is_superuser = False
    return users.admin


def make(admin, **kw):
    args = {
        "actor": admin,
        "username": "new",
        "password": "a-long-pass-phrase-9",
        "role": Role.GRID_WORKER,
        "areas": [],
    }
    args.update(kw)
    return user_create(**args)


def test_create_user_with_jurisdiction(admin, tree):
    user = make(admin, areas=[tree.grids["七星村1"]], full_name="李四")
    assert user.check_password("a-long-pass-phrase-9")
    assert str(user) == "李四"
    assert user.jurisdiction_paths() == [tree.grids["七星村1"].path]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"areas": []}, ValidationFailed),
        ({"username": " "}, ValidationFailed),
        ({"role": "emperor"}, ValidationFailed),
        ({"password": "123"}, ValidationFailed),
        ({"username": "cadre"}, Conflict),
        ({"role": Role.ADMIN}, PermissionDeniedError),
    ],
)
def test_bad_input_changes_nothing(admin, tree, kwargs, error):
    kwargs.setdefault("areas", [tree.qixing])
    before = (User.objects.count(), AuditEvent.objects.count())
    with pytest.raises(error):
        make(admin, **kwargs)
    assert (User.objects.count(), AuditEvent.objects.count()) == before


def test_only_admins_manage_accounts(users, tree):
    with pytest.raises(PermissionDeniedError):
        make(users.township, areas=[tree.qixing])
    with pytest.raises(PermissionDeniedError):
        user_set_role(actor=users.supervisor, user=users.cadre, role=Role.LEADER)


def test_area_outside_the_admins_jurisdiction(users, tree):
    users.admin.jurisdictions.update(area=tree.zhaoshan)
    users.admin._jurisdiction_paths = None
    with pytest.raises(PermissionDeniedError):
        make(users.admin, areas=[tree.helingcun])


def test_staff_list_is_scoped(client, users, tree):
    login(client, users.township)
    page = client.get("/accounts/").content.decode()
    cells = lambda name: f'data-label="用户名">{name}</td>'  # noqa: E731
    assert cells("cadre") in page
    assert cells("outsider") not in page and cells("supervisor") not in page
    data = client.get("/api/accounts/staff").json()
    assert {u["username"] for u in data["items"]} == {"grid", "cadre", "township"}


def test_staff_list_needs_the_role(client, users):
    login(client, users.cadre)
    assert client.get("/accounts/").status_code == 403


def test_logins_are_audited_and_throttled(client, users, settings):
    from django.core.cache import cache

    cache.clear()
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        page = client.post("/login/", {"username": "cadre", "password": "wrong"}).content.decode()
        assert "用户名或密码不对" in page
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 3
    # even the right password is refused while locked out, and no session starts
    page = client.post("/login/", {"username": "cadre", "password": "pw-for-tests"})
    assert page.status_code == 200 and "登录失败次数过多" in page.content.decode()
    cache.clear()
    assert (
        client.post("/login/", {"username": "cadre", "password": "pw-for-tests"}).status_code == 302
    )
    assert AuditEvent.objects.filter(action="auth.login", actor=users.cadre).count() == 1
