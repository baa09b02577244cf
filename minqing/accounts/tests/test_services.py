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
