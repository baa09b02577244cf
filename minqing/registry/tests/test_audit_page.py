"""The audit log as a supervisor reads it: actions in words, the object as a named link, the
reason of each reveal, filters by person, household, area and action name; and the household
page's 查看记录 link for those allowed to read the log."""

from datetime import date

import pytest

from minqing.conftest import login
from minqing.core.audit import action_label, registered_actions
from minqing.core.idcard import make_id_number
from minqing.registry import services
from minqing.registry.models import Relation
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory


@pytest.fixture
def hh(tree):
    h = HouseholdFactory(
        grid=tree.grids["七星村1"], number="430372100201001", address="七星村3组11号"
    )
    head = ResidentFactory(
        household=h,
        name="唐超德",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1960, 1, 1), 11),
    )
    h.head = head
    h.save()
    wife = ResidentFactory(
        household=h,
        name="易燕芳",
        relation=Relation.SPOUSE,
        id_number=make_id_number("430302", date(1962, 1, 1), 22),
    )
    other = HouseholdFactory(
        grid=tree.grids["昭山村1"], number="430372100202001", address="昭山村1号"
    )
    stranger = ResidentFactory(
        household=other,
        name="李四",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1970, 1, 1), 33),
    )
    return type(
        "HH", (), {"h": h, "head": head, "wife": wife, "other": other, "stranger": stranger}
    )


def test_actions_are_registered_in_words():
    assert action_label("registry.resident.reveal_id") == "查看身份证号"
    assert action_label("registry.export") == "导出台账"
    assert ("registry.resident.move_correct", "更正迁移登记") in registered_actions()
    assert action_label("unknown.thing") == "unknown.thing"


def test_the_log_speaks_words_links_names_and_reasons(client, users, hh):
    services.resident_reveal_id(actor=users.cadre, resident=hh.wife, reason="办理低保核实身份")
    services.tag_give(
        actor=users.cadre,
        tag=_tag("dibao"),
        household=hh.h,
        start_date=date(2024, 1, 1),
        reason="收入低",
    )
    page = login(client, users.supervisor).get("/core/audit/").content.decode()
    assert "查看身份证号" in page and "registry.resident.reveal_id" not in page.split("<tbody>")[1]
    assert "原因：办理低保核实身份" in page
    assert f'href="/registry/households/{hh.h.pk}/#r{hh.wife.pk}"' in page
    assert "易燕芳（唐超德户）" in page
    assert "唐超德户 · 七星村3组11号" in page
    assert "低保（收入低）" in page and ">dibao<" not in page


def test_filter_by_household_person_action_and_area(client, users, hh):
    services.resident_reveal_id(actor=users.township, resident=hh.wife, reason="核实")
    services.resident_reveal_id(actor=users.township, resident=hh.stranger, reason="核实")
    services.household_update(actor=users.township, household=hh.h, address="七星村3组12号")
    login(client, users.supervisor)

    def names(**params):
        r = client.get("/core/audit/", params)
        assert r.status_code == 200
        return r.content.decode().split("<tbody>")[1]

    body = names(household=hh.h.number)
    assert "易燕芳" in body and "唐超德户" in body and "李四" not in body
    body = names(household="唐超德")
    assert "易燕芳" in body and "李四" not in body
    body = names(person="yyf")
    assert "易燕芳" in body and "李四" not in body and "修改户信息" not in body
    body = names(action="registry.household.update")
    assert "修改户信息" in body and "易燕芳" not in body
    body = names(area=str(hh.other.grid.parent_id))
    assert "李四" in body and "易燕芳" not in body
    body = names(household="没有这户")
    assert "没有符合条件的记录" in body


def test_filters_stay_in_the_jurisdiction(client, users, hh, tree):
    services.resident_reveal_id(actor=users.township, resident=hh.wife, reason="核实")
    # a village cadre of another township cannot read the log at all; a supervisor of the
    # county can; an area outside the supervisor's jurisdiction answers nothing
    assert login(client, users.outsider).get("/core/audit/").status_code == 403
    login(client, users.supervisor)
    body = client.get("/core/audit/", {"area": str(tree.city.pk)}).content.decode()
    assert "没有符合条件的记录" in body


def test_audit_page_query_count_does_not_grow_with_events(
    client, users, hh, django_assert_max_num_queries
):
    for i in range(3):
        services.resident_reveal_id(actor=users.cadre, resident=hh.wife, reason="核实")
        services.household_update(actor=users.cadre, household=hh.h, notes=f"n{i}")
    login(client, users.supervisor)
    client.get("/core/audit/")
    with django_assert_max_num_queries(12) as first:
        client.get("/core/audit/")
    for _ in range(20):
        services.resident_reveal_id(actor=users.cadre, resident=hh.head, reason="核实")
        services.household_update(actor=users.cadre, household=hh.h, notes=str(_))
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get("/core/audit/")


def test_household_page_links_to_its_log_for_those_who_may_read_it(client, users, hh):
    url = f"/registry/households/{hh.h.pk}/"
    link = f"/core/audit/?household={hh.h.number}"
    assert link in login(client, users.supervisor).get(url).content.decode()
    assert link not in login(client, users.cadre).get(url).content.decode()


def test_no_select_distinct_over_the_log(client, users, hh, django_assert_max_num_queries):
    login(client, users.supervisor)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/core/audit/")
    assert not any("DISTINCT" in q["sql"].upper() for q in ctx.captured_queries)


def _tag(code):
    from minqing.registry.models import Tag

    return Tag.objects.get(code=code)
