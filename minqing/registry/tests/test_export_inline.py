"""An export answered in the request reads its households from the household list's
compiled statement and their tags with one prepared statement (exports._inline_household_values,
_household_tags): the same rows, order, masks and tags as the ORM's way (the background job's),
for every viewer and filter."""

from collections import defaultdict
from datetime import date

import pytest

from minqing.accounts.tests.factories import UserFactory
from minqing.core import statements
from minqing.core.errors import PermissionDeniedError
from minqing.registry.exports import (
    ExportFilters,
    _export_qs,
    _household_tags,
    _inline_household_values,
    household_rows,
)
from minqing.registry.models import Relation, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period

HOSTILE = '<b>"x"</b> & \'%_\\'


@pytest.fixture
def city(tree):
    specs = [
        ("七星村1", "QX-0001", "七星路 12 号", "张德书", "13812345678"),
        ("七星村1", "QX-0002", HOSTILE, HOSTILE, ""),
        ("七星村2", "QX-0003", "七星村%组", "王%芳", "13600002222"),
        ("昭山村1", "ZS-0001", "昭山鎮 3 號", "李秀英", "13700005678"),
        ("鹤岭村1", "HL-0001", "鹤岭村 12 号", "张德书", "13812349999"),
    ]
    made = {}
    for grid, number, address, name, phone in specs:
        h = HouseholdFactory(
            grid=tree.grids[grid], number=number, address=address, phone=phone, notes=HOSTILE
        )
        h.head = ResidentFactory(household=h, name=name, relation=Relation.HEAD)
        h.save()
        made[number] = h
    HouseholdFactory(grid=tree.grids["七星村2"], number="QX-0009", address="空户")
    child = ResidentFactory(household=made["QX-0001"], name="张小明", relation=Relation.CHILD)
    gone = ResidentFactory(household=made["QX-0001"], name="张走", relation=Relation.CHILD)
    gone.status = "moved_out"
    gone.save()
    period(tag_code="dibao", household=made["QX-0001"], start=date(2020, 1, 1))
    period(tag_code="disabled", resident=child, start=date(2020, 1, 1))
    period(tag_code="disabled", resident=made["QX-0001"].head, start=date(2021, 1, 1))
    period(tag_code="party_member", resident=made["QX-0001"].head, start=date(2020, 1, 1))
    period(tag_code="empty_nest", resident=made["QX-0002"].head, start=date(2020, 1, 1))
    period(
        tag_code="dibao", household=made["HL-0001"], start=date(2019, 1, 1), end=date(2020, 1, 1)
    )
    return made


def _orm_tags(ids):
    """The export's tags as the ORM read them before."""
    tags = defaultdict(list)
    for household_id, tag in (
        TagPeriod.objects.current()
        .filter(household_id__in=ids)
        .order_by("tag__order", "tag__name")
        .values_list("household_id", "tag__name")
    ):
        if tag not in tags[household_id]:
            tags[household_id].append(tag)
    return tags


def test_inline_rows_are_the_jobs_rows(users, tree, city):
    statements._compiled.clear()
    root = UserFactory(username="root", is_superuser=True, areas=[])
    viewers = [users.cadre, users.township, users.outsider, users.admin, users.leader, root]
    for user in viewers:
        for params in (
            {},
            {"tag": "dibao"},
            {"status": "empty"},
            {"status": "living"},
            {"q": "张德书"},
            {"q": "5678"},
            {"q": "%"},
            {"grid_id": tree.qixing.pk},
        ):
            filters = ExportFilters(**params)
            try:
                want = list(household_rows(_export_qs(user, "households", filters), stream=False))
            except PermissionDeniedError:
                with pytest.raises(PermissionDeniedError):
                    _inline_household_values(user, filters)
                continue
            got = list(household_rows(None, values=_inline_household_values(user, filters)))
            assert got == want, (user.username, params)


def test_tags_in_tag_order_each_once(city):
    ids = [h.pk for h in city.values()]
    assert _household_tags(ids) == _orm_tags(ids)
    assert len(_household_tags([city["QX-0001"].pk])[city["QX-0001"].pk]) == 3
    assert _household_tags([]) == {}
