"""Shared fixtures: a small area tree and one user per role in it, plus an outsider.

湘潭市 › 昭山示范区 › {昭山镇 › {七星村, 昭山村}, 鹤岭镇 › {鹤岭村}} and two grids per village.
"""

from types import SimpleNamespace

import pytest

from minqing.accounts.tests.factories import UserFactory
from minqing.areas.models import Level
from minqing.areas.tests.factories import make_area
from minqing.core.roles import Role


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.IMPORT_RUNNER = "inline"  # jobs run inside the test's transaction


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Counters kept in the cache (login throttle, ID-conflict rate limit) start at zero."""
    from django.core.cache import cache

    from minqing.core.proc_cache import process_cache_clear

    cache.clear()
    process_cache_clear()


@pytest.fixture
def tree(db):
    city = make_area(parent=None, level=Level.CITY, code="430300000000", name="湘潭市")
    county = make_area(parent=city, level=Level.COUNTY, code="430372000000", name="昭山示范区")
    zs = make_area(parent=county, level=Level.TOWNSHIP, code="430372100000", name="昭山镇")
    hl = make_area(parent=county, level=Level.TOWNSHIP, code="430372101000", name="鹤岭镇")
    qx = make_area(parent=zs, level=Level.VILLAGE, code="430372100201", name="七星村")
    zsc = make_area(parent=zs, level=Level.VILLAGE, code="430372100202", name="昭山村")
    hlc = make_area(parent=hl, level=Level.VILLAGE, code="430372101201", name="鹤岭村")
    grids = {}
    for village in (qx, zsc, hlc):
        for g in (1, 2):
            grids[f"{village.name}{g}"] = make_area(
                parent=village,
                level=Level.GRID,
                code=f"{village.code}{g:03d}",
                name=f"{village.name}第{g}网格",
            )
    return SimpleNamespace(
        city=city,
        county=county,
        zhaoshan=zs,
        heling=hl,
        qixing=qx,
        zhaoshancun=zsc,
        helingcun=hlc,
        grids=grids,
    )


@pytest.fixture
def users(tree):
    """One user per role; `outsider` is a village cadre of another township."""
    return SimpleNamespace(
        grid=UserFactory(username="grid", role=Role.GRID_WORKER, areas=[tree.grids["七星村1"]]),
        cadre=UserFactory(username="cadre", role=Role.VILLAGE_CADRE, areas=[tree.qixing]),
        township=UserFactory(username="township", role=Role.TOWNSHIP_STAFF, areas=[tree.zhaoshan]),
        dept=UserFactory(username="dept", role=Role.DEPARTMENT_STAFF, areas=[tree.county]),
        leader=UserFactory(username="leader", role=Role.LEADER, areas=[tree.county]),
        supervisor=UserFactory(username="supervisor", role=Role.SUPERVISOR, areas=[tree.county]),
        zhengfa=UserFactory(username="zhengfa", role=Role.POLITICAL_LEGAL, areas=[tree.county]),
        admin=UserFactory(username="admin", role=Role.ADMIN, is_staff=True, areas=[tree.city]),
        outsider=UserFactory(username="outsider", role=Role.VILLAGE_CADRE, areas=[tree.helingcun]),
    )


def login(client, user, *, second_factor: bool = True):
    """Log in; for roles that need a second factor, also pass it (a confirmed TOTP device
    and the session mark django-otp sets after a good code), unless second_factor=False."""
    client.force_login(user)
    from minqing.accounts.otp import otp_required

    if second_factor and otp_required(user):
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
