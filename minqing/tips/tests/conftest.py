"""Tips fixtures: officers at county and township level, a custodian, a category, and a
helper that files a tip through the service."""

from types import SimpleNamespace

import pytest

from minqing.accounts.tests.factories import UserFactory
from minqing.core.roles import Role
from minqing.tips import services
from minqing.tips.models import TipCategory, TipCustodian


@pytest.fixture(autouse=True)
def _tips_settings(settings, tmp_path):
    settings.TIPS_RECEIPT_SCRYPT_N = 2**10  # fast in tests; the timing test raises it
    settings.TIPS_BLOB_DIR = tmp_path / "tips"
    settings.TIPS_RECEIPT_LOOKUPS_PER_MINUTE = 1000
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def officers(users, tree):
    """county: users.zhengfa (昭山示范区); zs: 昭山镇 officer; hl: 鹤岭镇 officer;
    custodian: a county officer named custodian."""
    zs = UserFactory(
        username="zf_zs",
        role=Role.POLITICAL_LEGAL,
        areas=[tree.zhaoshan],
        last_name="吴",
        first_name="镇政法",
    )
    hl = UserFactory(
        username="zf_hl",
        role=Role.POLITICAL_LEGAL,
        areas=[tree.heling],
        last_name="冯",
        first_name="鹤政法",
    )
    custodian = UserFactory(
        username="custodian",
        role=Role.POLITICAL_LEGAL,
        areas=[tree.county],
        last_name="钱",
        first_name="保管",
    )
    TipCustodian.objects.create(user=custodian, area=tree.county)
    return SimpleNamespace(county=users.zhengfa, zs=zs, hl=hl, custodian=custodian)


@pytest.fixture
def category(db):
    return TipCategory.objects.get(name="村霸")


@pytest.fixture
def file_tip(category, tree):
    def make(area=None, content="有人强收保护费", people_named="", identity=None, **kw):
        return services.tip_file(
            actor=kw.pop("actor", None),
            area_id=(area or tree.qixing).pk,
            category_id=kw.pop("category_id", category.pk),
            content=content,
            people_named=people_named,
            identity=identity,
            **kw,
        )

    return make
