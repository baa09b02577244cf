"""The household list's rows from a statement compiled once per shape of search
(selectors.household_list_statement, core.statements): the same rows, order and totals as
household_search for every kind of query, filter and viewer, and never another viewer's
rows when two viewers' searches share a shape."""

from datetime import date

import pytest

from minqing.accounts.tests.factories import UserFactory
from minqing.core import statements
from minqing.core.errors import PermissionDeniedError
from minqing.registry import selectors
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period
from minqing.registry.views import HouseholdRow, ResidentRow

COLUMNS = HouseholdRow.COLUMNS


@pytest.fixture
def city(tree):
    """Households in both townships, with names, pinyin, phones, addresses (繁 and 简),
    numbers, tags and statuses to search by, and LIKE's signs in some."""
    made = {}
    specs = [
        ("七星村1", "QX-0001", "陕西省洋县七星路 12 号", [("张德书", "head", "13812345678")]),
        ("七星村1", "QX-0002", "七星路 3 號", [("易燕芳", "head", "13900001234")]),
        ("七星村2", "QX-0003", "七星村%组", [("王%芳", "head", "13600002222")]),
        ("昭山村1", "ZS-0001", "湖南省湘潭縣昭山鎮 3 號", [("李秀英", "head", "13700005678")]),
        ("昭山村2", "ZS-0002", "昭山_路", [("張德華", "head", "13500003333")]),
        ("鹤岭村1", "HL-0001", "鹤岭村 12 号", [("张德书", "head", "13812349999")]),
        ("鹤岭村2", "4303720000012345", "鹤岭村", [("陈国强", "head", "13400001234")]),
    ]
    for grid, number, address, people in specs:
        h = HouseholdFactory(grid=tree.grids[grid], number=number, address=address)
        for name, relation, phone in people:
            ResidentFactory(household=h, name=name, relation=relation, phone=phone)
        made[number] = h
    gone = ResidentFactory(household=made["QX-0002"], name="易德", relation="child")
    gone.status, gone.status_date = "moved_out", date(2024, 1, 1)
    gone.save()
    empty = HouseholdFactory(grid=tree.grids["七星村2"], number="QX-0009", address="空户")
    made["QX-0009"] = empty
    period(tag_code="dibao", household=made["QX-0001"], start=date(2020, 1, 1))
    period(tag_code="dibao", household=made["HL-0001"], start=date(2020, 1, 1))
    return made


QUERIES = [
    *("", "张德书", "張德書", "德", "zhangdeshu", "zds", "zh", "yi", "ZDS"),
    *("洋縣", "湘潭县", "七星路", "QX-0001", "4303720000012345", "4303720000"),
    *("1234", "5678", "12345", "%", "_", "王%", "昭山_", "\x1f0\x1f", "\\"),
]


def _statement_rows(user, **params):
    statement = selectors.household_list_statement(fetched_by=user, columns=COLUMNS, **params)
    return statement[0:100], statement.count()


def _orm_rows(user, **params):
    qs = selectors.household_search(fetched_by=user, **params)
    return list(selectors.household_list_rows(qs).values_list(*COLUMNS)), qs.count()


def _viewers(users, tree):
    root = UserFactory(username="root", is_superuser=True, areas=[])
    two = UserFactory(username="two", role="village_cadre", areas=[tree.qixing, tree.helingcun])
    nothing = UserFactory(username="nothing", role="village_cadre", areas=[])
    return [
        users.grid,
        users.cadre,
        users.township,
        users.outsider,
        users.admin,
        root,
        two,
        nothing,
    ]


def test_the_statement_answers_what_the_search_answers(users, tree, city):
    # one test over every query (the fixtures built once: parametrised, it took ~2 min)
    viewers = _viewers(users, tree)
    for q in QUERIES:
        _same_answers(viewers, q)


def _same_answers(viewers, q):
    statements._compiled.clear()
    for user in viewers:
        for extra in ({}, {"tag": "dibao"}, {"status": "empty"}, {"status": "moved_out"}):
            try:
                want = _orm_rows(user, q=q, **extra)
            except PermissionDeniedError:
                with pytest.raises(PermissionDeniedError):
                    _statement_rows(user, q=q, **extra)
                continue
            assert _statement_rows(user, q=q, **extra) == want, (user.username, q, extra)


def test_areas_and_unknown_filters(users, tree, city):
    for user in _viewers(users, tree):
        for params in (
            {"grid_id": tree.qixing.pk},
            {"grid_id": tree.grids["鹤岭村1"].pk, "q": "张德书"},
            {"grid_id": tree.zhaoshan.pk, "tag": "dibao"},
            {"grid_id": "x"},
            {"status": "nonsense"},
            {"tag": "no-such-tag"},
        ):
            assert _statement_rows(user, **params) == _orm_rows(user, **params), params


def test_a_shape_compiled_for_one_viewer_answers_another_with_their_own_rows(users, city):
    """The cadre of 七星村 and the outsider (鹤岭村) hold one area each: their searches share
    a compiled statement, each gets the households of their own village."""
    statements._compiled.clear()
    rows, _n = _statement_rows(users.cadre, q="张德书")
    assert [r[1] for r in rows] == ["QX-0001"]
    shapes = len(statements._compiled)
    rows, _n = _statement_rows(users.outsider, q="张德书")
    assert [r[1] for r in rows] == ["HL-0001"]
    assert len(statements._compiled) == shapes  # the same statements, other values
    rows, n = _statement_rows(users.outsider, q="")
    assert {r[1] for r in rows} == {"HL-0001", "4303720000012345"} and n == 2


def test_pages_slice_the_rows(users, city):
    statement = selectors.household_list_statement(fetched_by=users.admin, columns=COLUMNS)
    every = statement[0:100]
    assert statement[2:4] == every[2:4] and statement[0:0] == []
    assert statement.count() == len(every) == 8


def test_kept_totals_from_the_compiled_statement_are_the_counts(users, tree, city):
    """kept_count (compiled once per shape too) against the rows counted, for every viewer,
    area and filter the summaries keep; None where they do not tell."""
    from minqing.registry.summaries import summaries_rebuild

    summaries_rebuild()
    statements._compiled.clear()
    for user in _viewers(users, tree):
        for kind, search in (
            ("households", selectors.household_search),
            ("residents", selectors.resident_search),
        ):
            for params in (
                {},
                {"tag": "dibao"},
                {"grid_id": tree.qixing.pk},
                {"grid_id": tree.helingcun.pk, "tag": "dibao"},
                {"grid_id": "x"},
                {"status": "living"},
            ):
                kept = selectors.kept_count(fetched_by=user, kind=kind, **params)
                counted = search(fetched_by=user, **params).count()
                # dibao is a household tag: it tells households, not residents
                told = "status" not in params if kind == "households" else "tag" not in params
                assert kept == counted if told else kept in (None, counted), (
                    user.username,
                    kind,
                    params,
                    kept,
                    counted,
                )
    assert selectors.kept_count(fetched_by=users.admin, kind="households", status="living") is None
    assert selectors.kept_count(fetched_by=users.admin, kind="households", q="张") is None
    # a household tag does not tell how many residents carry it
    assert selectors.kept_count(fetched_by=users.admin, kind="residents", tag="dibao") is None


def test_a_viewer_without_areas_never_gets_a_superusers_statement(users, tree, city):
    """A superuser's statements have no scope: one compiled for them must not serve a
    viewer who holds no area (their values, no paths, must not look the same)."""
    from minqing.registry.summaries import summaries_rebuild

    summaries_rebuild()
    statements._compiled.clear()
    root = UserFactory(username="root2", is_superuser=True, areas=[])
    nothing = UserFactory(username="nothing2", role="village_cadre", areas=[])
    assert _statement_rows(root)[1] == 8
    assert selectors.kept_count(fetched_by=root, kind="households") == 8
    assert _statement_rows(nothing) == ([], 0)
    assert selectors.kept_count(fetched_by=nothing, kind="households") == 0
    assert selectors.kept_count(fetched_by=nothing, kind="households", tag="dibao") == 0


@pytest.mark.django_db
def test_a_model_visible_beyond_its_area_is_refused():
    """Appeals are also visible to their owner and unit outside their area, which the
    stand-in viewer cannot carry: compiling them must fail, not silently drop those rows."""
    from minqing.appeals.models import Appeal

    def build(marks):
        return Appeal.objects.visible_to(statements.scope_user(marks)).values_list("pk")

    with pytest.raises(TypeError, match="not compilable"):
        statements.compiled(("appeals",), {"path0": "1."}, build)


# ---------------------------------------------------------------- the resident list

RESIDENT_COLUMNS = ResidentRow.COLUMNS


def _resident_statement_rows(user, **params):
    statement = selectors.resident_list_statement(
        fetched_by=user, columns=RESIDENT_COLUMNS, **params
    )
    return statement[0:100], statement.count()


def _resident_orm_rows(user, **params):
    qs = selectors.resident_search(fetched_by=user, **params)
    return list(qs.values_list(*RESIDENT_COLUMNS)), qs.count()


def test_the_resident_statement_answers_what_the_resident_search_answers(users, tree, city):
    viewers = _viewers(users, tree)
    period(tag_code="party_member", resident=city["QX-0001"].members.get(), start=date(2020, 1, 1))
    for q in QUERIES:
        statements._compiled.clear()
        for user in viewers:
            for extra in (
                {},
                {"tag": "dibao"},
                {"tag": "party_member"},
                {"status": "living"},
                {"status": "moved_out"},
            ):
                try:
                    want = _resident_orm_rows(user, q=q, **extra)
                except PermissionDeniedError:
                    with pytest.raises(PermissionDeniedError):
                        _resident_statement_rows(user, q=q, **extra)
                    continue
                got = _resident_statement_rows(user, q=q, **extra)
                assert got == want, (user.username, q, extra)


def test_the_resident_statement_in_areas_and_unknown_filters(users, tree, city):
    for user in _viewers(users, tree):
        for params in (
            {"grid_id": tree.qixing.pk},
            {"grid_id": tree.grids["鹤岭村1"].pk, "q": "张德书"},
            {"grid_id": tree.zhaoshan.pk, "tag": "dibao"},
            {"grid_id": "x"},
            {"status": "nonsense"},
            {"status": "empty"},
            {"tag": "no-such-tag"},
        ):
            got = _resident_statement_rows(user, **params)
            assert got == _resident_orm_rows(user, **params), params


def test_a_resident_shape_compiled_for_one_viewer_answers_another_with_their_own(users, city):
    statements._compiled.clear()
    rows, _n = _resident_statement_rows(users.cadre, q="张德书")
    assert [r[10] for r in rows] == ["QX-0001"]
    shapes = len(statements._compiled)
    rows, n = _resident_statement_rows(users.outsider, q="张德书")
    assert [r[10] for r in rows] == ["HL-0001"] and n == 1
    assert len(statements._compiled) == shapes  # the same statements, other values
    # the masked digits are not a way in: a tail finds only the viewer's own residents
    rows, _n = _resident_statement_rows(users.outsider, q="5678")
    assert rows == []
    rows, _n = _resident_statement_rows(users.outsider, q="9999")
    assert [r[10] for r in rows] == ["HL-0001"]


def test_a_full_number_through_the_resident_statement_is_refused_or_audited(users, city):
    """The identity lookup's check and audit happen before any statement runs."""
    from minqing.core.models import AuditEvent

    with pytest.raises(PermissionDeniedError):
        _resident_statement_rows(users.grid, q="13812345678")
    before = AuditEvent.objects.filter(action="registry.identity_lookup").count()
    rows, _n = _resident_statement_rows(users.admin, q="13812345678")
    assert [r[1] for r in rows] == ["张德书"]
    assert AuditEvent.objects.filter(action="registry.identity_lookup").count() == before + 1
