"""Registry services: rules, jurisdiction, history, one audit event per change, and bad input
changes nothing."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from minqing.core.errors import Conflict, NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.idcard import make_id_number
from minqing.core.models import AuditEvent
from minqing.registry import services
from minqing.registry.models import (
    Household,
    Move,
    Organisation,
    Place,
    Relation,
    Resident,
    ResidentStatus,
    Tag,
    TagPeriod,
)
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, tag

D = date(2024, 3, 1)
VALID = make_id_number("430302", date(1990, 2, 3), 1)
WRONG_CHECK = VALID[:17] + ("0" if VALID[-1] != "0" else "1")


def snapshot():
    """Row counts of everything a registry service may write."""
    return tuple(
        m.objects.count()
        for m in (Household, Resident, Move, TagPeriod, Place, Organisation, Tag, AuditEvent)
    )


@pytest.fixture
def hh(tree):
    """A household in 七星村 grid 1 with a head and a child."""
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="H-QX-1")
    head = ResidentFactory(
        household=household,
        name="张德书",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1962, 5, 8), 111),
    )
    child = ResidentFactory(
        household=household,
        name="张小燕",
        relation=Relation.CHILD,
        id_number=make_id_number("430302", date(2014, 9, 1), 222),
    )
    return type("HH", (), {"household": household, "head": head, "child": child})


# ------------------------------------------------------------ households


def test_household_create_writes_one_audit_event(users, tree):
    household = services.household_create(
        actor=users.cadre,
        grid=tree.grids["七星村2"],
        address="七星村三组 8 号",
        phone="13800001111",
    )
    assert household.number == f"{tree.grids['七星村2'].code}0001"
    events = AuditEvent.objects.filter(action="registry.household.create")
    assert events.count() == 1
    assert events.get().area_id == tree.grids["七星村2"].pk


def test_household_numbers_are_generated_in_sequence(users, tree):
    grid = tree.grids["七星村1"]
    a = services.household_create(actor=users.cadre, grid=grid, address="一组")
    b = services.household_create(actor=users.cadre, grid=grid, address="二组")
    assert b.number == f"{grid.code}0002" != a.number


def test_household_create_outside_jurisdiction_is_not_found(users, tree):
    before = snapshot()
    with pytest.raises(NotFoundError):
        services.household_create(actor=users.cadre, grid=tree.grids["鹤岭村1"], address="x")
    assert snapshot() == before


def test_household_must_hang_on_a_grid_not_a_village(users, tree):
    with pytest.raises(ValidationFailed) as err:
        services.household_create(actor=users.cadre, grid=tree.qixing, address="x")
    assert "不是网格" in str(err.value.message)


def test_household_create_needs_an_editing_role(users, tree):
    before = snapshot()
    with pytest.raises(PermissionDeniedError):
        services.household_create(actor=users.leader, grid=tree.grids["七星村1"], address="x")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"address": ""}, ValidationFailed),
        ({"address": "x", "phone": "abc"}, ValidationFailed),
        ({"address": "x", "number": "H-QX-1"}, Conflict),
    ],
)
def test_household_create_bad_input_changes_nothing(users, tree, hh, kwargs, error):
    before = snapshot()
    with pytest.raises(error):
        services.household_create(actor=users.cadre, grid=tree.grids["七星村1"], **kwargs)
    assert snapshot() == before


def test_household_update_records_what_changed(users, tree, hh):
    services.household_update(
        actor=users.township,
        household=hh.household,
        address="七星村新址 1 号",
        grid=tree.grids["昭山村1"],
    )
    hh.household.refresh_from_db()
    assert hh.household.grid == tree.grids["昭山村1"]
    event = AuditEvent.objects.get(action="registry.household.update")
    assert set(event.detail) == {"address", "grid", "version"}


def test_household_update_without_changes_writes_nothing(users, hh):
    before = snapshot()
    services.household_update(
        actor=users.cadre, household=hh.household, address=hh.household.address
    )
    assert snapshot() == before


def test_village_cadre_cannot_move_a_household_to_another_township(users, tree, hh):
    with pytest.raises(NotFoundError):
        services.household_update(
            actor=users.cadre, household=hh.household, grid=tree.grids["鹤岭村1"]
        )
    hh.household.refresh_from_db()
    assert hh.household.grid == tree.grids["七星村1"]


def test_household_update_outside_jurisdiction_is_not_found(users, hh):
    with pytest.raises(NotFoundError):
        services.household_update(actor=users.outsider, household=hh.household, address="y")


# ------------------------------------------------------------ residents


def test_resident_create_derives_gender_birth_date_and_search_keys(users, hh):
    number = make_id_number("430302", date(1990, 2, 3), 124)
    resident = services.resident_create(
        actor=users.grid,
        household=hh.household,
        name="張德華",
        id_number=number.lower(),
        relation=Relation.CHILD,
        phone="139 0000 1234",
    )
    assert (resident.gender, resident.birth_date) == ("F", date(1990, 2, 3))
    assert resident.name_norm == "张德华"
    assert resident.name_pinyin == "zhangdehua"
    assert resident.name_initials == "zdh"
    assert resident.id_tail == number[-6:]
    assert resident.phone_tail == "1234"
    assert AuditEvent.objects.filter(action="registry.resident.create").count() == 1
    # The audit row never carries the full number.
    assert number not in str(AuditEvent.objects.get(action="registry.resident.create").detail)


@pytest.mark.parametrize(
    ("id_number", "fragment"),
    [
        ("43030219900203123", "18 位"),
        (make_id_number("990302", date(1990, 2, 3), 1), "地区码"),
        ("430302199002301230", "出生日期"),
        (WRONG_CHECK, "校验位"),
    ],
)
def test_resident_create_rejects_bad_id_numbers_naming_the_part(users, hh, id_number, fragment):
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        services.resident_create(
            actor=users.cadre, household=hh.household, name="某人", id_number=id_number
        )
    assert fragment in str(err.value.message)
    assert snapshot() == before


def test_duplicate_id_number_is_a_conflict(users, hh):
    before = snapshot()
    with pytest.raises(Conflict) as err:
        services.resident_create(
            actor=users.cadre, household=hh.household, name="重复", id_number=hh.head.id_number
        )
    assert hh.household.number in str(err.value.message)
    assert snapshot() == before


def test_duplicate_id_in_another_township_does_not_leak_where(users, tree, hh):
    other = HouseholdFactory(grid=tree.grids["鹤岭村1"])
    before = snapshot()
    with pytest.raises(Conflict) as err:
        services.resident_create(
            actor=users.outsider, household=other, name="重复", id_number=hh.head.id_number
        )
    assert hh.household.number not in str(err.value.message)
    assert "张德书" not in str(err.value.message)
    assert "请联系乡镇" in str(err.value.message)
    # Nothing written but the trace of the conflict (tests/test_id_conflicts.py).
    assert snapshot()[:-1] == before[:-1]
    assert AuditEvent.objects.filter(action="registry.resident.id_conflict").count() == 1


def test_second_living_head_is_refused(users, hh):
    with pytest.raises(Conflict):
        services.resident_create(
            actor=users.cadre,
            household=hh.household,
            name="李四",
            id_number=make_id_number("430302", date(1970, 1, 1), 5),
            relation=Relation.HEAD,
        )


def test_first_head_becomes_the_household_head(users, tree):
    household = HouseholdFactory(grid=tree.grids["七星村1"])
    head = services.resident_create(
        actor=users.cadre,
        household=household,
        name="王五",
        id_number=make_id_number("430302", date(1970, 1, 1), 7),
        relation=Relation.HEAD,
    )
    household.refresh_from_db()
    assert household.head == head


def test_resident_create_with_move_in_date_records_the_move(users, hh):
    resident = services.resident_create(
        actor=users.cadre,
        household=hh.household,
        name="赵六",
        id_number=make_id_number("430302", date(1995, 1, 1), 9),
        relation=Relation.CHILD_IN_LAW,
        moved_in_on=D,
        reason="婚入",
    )
    move = Move.objects.get(resident=resident)
    assert (move.kind, move.to_household, move.date, move.reason) == ("in", hh.household, D, "婚入")
    assert AuditEvent.objects.filter(target_id=str(resident.pk)).count() == 1


def test_resident_create_outside_jurisdiction_is_not_found(users, hh):
    before = snapshot()
    with pytest.raises(NotFoundError):
        services.resident_create(
            actor=users.outsider,
            household=hh.household,
            name="外人",
            id_number=make_id_number("430302", date(1995, 1, 1), 9),
        )
    assert snapshot() == before


def test_resident_update_recomputes_derived_fields(users, hh):
    number = make_id_number("430302", date(2014, 9, 2), 223)
    services.resident_update(
        actor=users.cadre, resident=hh.child, name="张晓燕", id_number=number, phone="13912345678"
    )
    hh.child.refresh_from_db()
    assert hh.child.birth_date == date(2014, 9, 2)
    assert hh.child.gender == "M"
    assert hh.child.name_pinyin == "zhangxiaoyan"
    assert hh.child.phone_tail == "5678"
    event = AuditEvent.objects.get(action="registry.resident.update")
    assert set(event.detail) == {"name", "id_number", "phone", "version"}
    assert number not in str(event.detail)


def test_resident_update_to_head_while_another_head_lives_is_refused(users, hh):
    with pytest.raises(Conflict):
        services.resident_update(actor=users.cadre, resident=hh.child, relation=Relation.HEAD)
    hh.child.refresh_from_db()
    assert hh.child.relation == Relation.CHILD


def test_resident_update_head_handover(users, hh):
    services.resident_update(actor=users.cadre, resident=hh.head, relation=Relation.PARENT)
    services.resident_update(actor=users.cadre, resident=hh.child, relation=Relation.HEAD)
    hh.household.refresh_from_db()
    assert hh.household.head == hh.child


# ------------------------------------------------------------ moves


def test_transfer_keeps_the_history(users, tree, hh):
    target = HouseholdFactory(grid=tree.grids["昭山村1"], number="H-ZS-1")
    services.tag_give(
        actor=users.township,
        tag=tag("left_behind_child"),
        resident=hh.child,
        start_date=D,
        reason="父母外出",
    )
    day = D + timedelta(days=30)
    move = services.resident_move(
        actor=users.township,
        resident=hh.child,
        kind=Move.Kind.TRANSFER,
        date=day,
        to_household=target,
        relation=Relation.GRANDCHILD,
        reason="随祖父母生活",
    )
    hh.child.refresh_from_db()
    assert hh.child.household == target
    assert hh.child.relation == Relation.GRANDCHILD
    assert (move.from_household, move.to_household, move.date) == (hh.household, target, day)
    # The tag followed the child; the old household keeps its part of the history.
    periods = TagPeriod.objects.filter(resident=hh.child).order_by("start_date")
    assert [(p.household_id, p.start_date, p.end_date) for p in periods] == [
        (hh.household.pk, D, day),
        (target.pk, day, None),
    ]
    assert (
        TagPeriod.objects.on(day - timedelta(days=1)).get(resident=hh.child).household
        == hh.household
    )
    assert TagPeriod.objects.on(day).get(resident=hh.child).household == target
    assert AuditEvent.objects.filter(action="registry.resident.move").count() == 1


def test_head_moving_out_leaves_the_household_headless(users, hh):
    services.tag_give(
        actor=users.cadre, tag=tag("party_member"), resident=hh.head, start_date=D, reason="入党"
    )
    services.resident_move(
        actor=users.cadre, resident=hh.head, kind=Move.Kind.MOVE_OUT, date=D + timedelta(days=1)
    )
    hh.head.refresh_from_db()
    hh.household.refresh_from_db()
    assert hh.head.status == ResidentStatus.MOVED_OUT
    assert hh.head.status_date == D + timedelta(days=1)
    assert hh.head.household == hh.household  # still listed there, as history
    assert hh.household.head is None
    period = TagPeriod.objects.get(resident=hh.head)
    assert (period.end_date, period.end_reason, period.ended_by) == (
        D + timedelta(days=1),
        "迁出",
        users.cadre,
    )


def test_moved_out_resident_can_move_back_in(users, hh):
    services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    services.resident_move(actor=users.cadre, resident=hh.child, kind="in", date=D + timedelta(1))
    hh.child.refresh_from_db()
    assert hh.child.status == ResidentStatus.LIVING
    assert list(hh.child.moves.order_by("id").values_list("kind", flat=True)) == ["out", "in"]


def test_death_is_recorded(users, hh):
    services.resident_move(actor=users.cadre, resident=hh.head, kind="death", date=D, reason="病故")
    hh.head.refresh_from_db()
    assert hh.head.status == ResidentStatus.DECEASED
    with pytest.raises(ValidationFailed):
        services.resident_move(actor=users.cadre, resident=hh.head, kind="death", date=D)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "transfer"}, ValidationFailed),  # no target
        ({"kind": "in"}, ValidationFailed),  # is living already
        ({"kind": "teleport"}, ValidationFailed),
        ({"kind": "out", "date": timezone.localdate() + timedelta(days=2)}, ValidationFailed),
    ],
)
def test_bad_moves_change_nothing(users, hh, kwargs, error):
    kwargs.setdefault("date", D)
    before = snapshot()
    with pytest.raises(error):
        services.resident_move(actor=users.cadre, resident=hh.child, **kwargs)
    assert snapshot() == before
    hh.child.refresh_from_db()
    assert hh.child.status == ResidentStatus.LIVING


def test_transfer_to_a_household_in_another_township_is_not_found(users, tree, hh):
    foreign = HouseholdFactory(grid=tree.grids["鹤岭村1"])
    before = snapshot()
    with pytest.raises(NotFoundError):
        services.resident_move(
            actor=users.township, resident=hh.child, kind="transfer", date=D, to_household=foreign
        )
    assert snapshot() == before


def test_move_before_the_last_move_is_refused(users, hh):
    services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    with pytest.raises(ValidationFailed):
        services.resident_move(
            actor=users.cadre, resident=hh.child, kind="in", date=D - timedelta(days=3)
        )


# ------------------------------------------------------------ tags


def test_tag_give_and_remove_keep_the_history(users, hh):
    dibao = tag("dibao")
    services.tag_give(
        actor=users.cadre, tag=dibao, household=hh.household, start_date=D, reason="收入低于标准"
    )
    services.tag_remove(
        actor=users.township,
        tag=dibao,
        household=hh.household,
        end_date=D + timedelta(days=200),
        reason="务工收入增加",
    )
    services.tag_give(
        actor=users.cadre,
        tag=dibao,
        household=hh.household,
        start_date=D + timedelta(days=300),
        reason="因病返贫",
    )
    rows = list(
        TagPeriod.objects.filter(tag=dibao, household=hh.household)
        .order_by("start_date")
        .values_list("start_reason", "started_by", "end_reason", "ended_by")
    )
    assert rows == [
        ("收入低于标准", users.cadre.pk, "务工收入增加", users.township.pk),
        ("因病返贫", users.cadre.pk, "", None),
    ]
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["registry.tag.give", "registry.tag.remove", "registry.tag.give"]


def test_tag_given_twice_is_a_conflict(users, hh):
    services.tag_give(
        actor=users.cadre, tag=tag("disabled"), resident=hh.head, start_date=D, reason="二级肢体"
    )
    before = snapshot()
    with pytest.raises(Conflict):
        services.tag_give(
            actor=users.cadre, tag=tag("disabled"), resident=hh.head, start_date=D, reason="again"
        )
    assert snapshot() == before


def test_tag_periods_never_overlap(users, hh):
    services.tag_give(
        actor=users.cadre, tag=tag("disabled"), resident=hh.head, start_date=D, reason="a"
    )
    services.tag_remove(
        actor=users.cadre,
        tag=tag("disabled"),
        resident=hh.head,
        end_date=D + timedelta(10),
        reason="b",
    )
    with pytest.raises(Conflict):
        services.tag_give(
            actor=users.cadre,
            tag=tag("disabled"),
            resident=hh.head,
            start_date=D + timedelta(5),
            reason="c",
        )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"tag_code": "dibao", "resident": "head"}, ValidationFailed),  # household tag on a person
        (
            {"tag_code": "disabled", "household": True},
            ValidationFailed,
        ),  # personal tag on a household
        ({"tag_code": "disabled", "resident": "head", "reason": ""}, ValidationFailed),
        (
            {"tag_code": "disabled", "resident": "head", "start_date": date(2999, 1, 1)},
            ValidationFailed,
        ),
    ],
)
def test_bad_tag_input_changes_nothing(users, hh, kwargs, error):
    args = {
        "tag": tag(kwargs.pop("tag_code")),
        "start_date": kwargs.pop("start_date", D),
        "reason": kwargs.pop("reason", "原因"),
    }
    if kwargs.pop("resident", None):
        args["resident"] = hh.head
    if kwargs.pop("household", None):
        args["household"] = hh.household
    before = snapshot()
    with pytest.raises(error):
        services.tag_give(actor=users.cadre, **args)
    assert snapshot() == before


def test_tag_remove_without_an_open_period_is_a_conflict(users, hh):
    with pytest.raises(Conflict):
        services.tag_remove(
            actor=users.cadre, tag=tag("dibao"), household=hh.household, end_date=D, reason="x"
        )


def test_tag_remove_before_its_start_is_refused(users, hh):
    services.tag_give(
        actor=users.cadre, tag=tag("dibao"), household=hh.household, start_date=D, reason="a"
    )
    before = snapshot()
    with pytest.raises(ValidationFailed):
        services.tag_remove(
            actor=users.cadre,
            tag=tag("dibao"),
            household=hh.household,
            end_date=D - timedelta(days=1),
            reason="b",
        )
    assert snapshot() == before


def test_tags_need_a_tagging_role_and_the_jurisdiction(users, hh):
    with pytest.raises(PermissionDeniedError):
        services.tag_give(
            actor=users.supervisor,
            tag=tag("dibao"),
            household=hh.household,
            start_date=D,
            reason="a",
        )
    with pytest.raises(NotFoundError):
        services.tag_give(
            actor=users.outsider, tag=tag("dibao"), household=hh.household, start_date=D, reason="a"
        )
    assert not TagPeriod.objects.exists()


def test_system_tags_are_seeded(db):
    codes = set(Tag.objects.filter(is_system=True).values_list("code", flat=True))
    assert {"poverty_enrolled", "dibao", "wubao", "tekun", "disabled", "shidu", "orphan"} <= codes
    assert {"empty_nest", "left_behind_child", "petitioner", "party_member"} <= codes
    assert {"able_farmer", "retired_cadre"} <= codes
    assert Tag.objects.get(code="poverty_enrolled").name == "建档立卡贫困户"
    assert Tag.objects.get(code="dibao").scope == Tag.Scope.HOUSEHOLD


def test_tag_create_is_for_administrators(users):
    new = services.tag_create(actor=users.admin, code="veteran", name="退役军人", scope="resident")
    assert not new.is_system
    assert AuditEvent.objects.filter(action="registry.tag.create").count() == 1
    with pytest.raises(PermissionDeniedError):
        services.tag_create(actor=users.township, code="x_y", name="某类")
    with pytest.raises(Conflict):
        services.tag_create(actor=users.admin, code="dibao2", name="低保")
    with pytest.raises(ValidationFailed):
        services.tag_create(actor=users.admin, code="Bad Code", name="坏代码")


# ------------------------------------------------------------ reveal


def test_each_reveal_is_one_audit_event(users, hh):
    assert services.resident_reveal_id(actor=users.cadre, resident=hh.head) == hh.head.id_number
    services.resident_reveal_id(actor=users.cadre, resident=hh.head)
    assert services.resident_reveal_phone(actor=users.cadre, resident=hh.head) == hh.head.phone
    events = AuditEvent.objects.filter(target_id=str(hh.head.pk))
    assert list(events.order_by("id").values_list("action", flat=True)) == [
        "registry.resident.reveal_id",
        "registry.resident.reveal_id",
        "registry.resident.reveal_phone",
    ]
    assert all(e.actor == users.cadre for e in events)
    assert all(e.area_id == hh.household.grid_id for e in events)


@pytest.mark.parametrize("who", ["grid", "leader", "supervisor"])
def test_roles_without_the_permission_cannot_reveal(users, hh, who):
    with pytest.raises(PermissionDeniedError):
        services.resident_reveal_id(actor=getattr(users, who), resident=hh.head)
    with pytest.raises(PermissionDeniedError):
        services.resident_reveal_phone(actor=getattr(users, who), resident=hh.head)
    assert not AuditEvent.objects.filter(action__startswith="registry.").exists()


def test_reveal_outside_jurisdiction_is_not_found(users, hh):
    with pytest.raises(NotFoundError):
        services.resident_reveal_id(actor=users.outsider, resident=hh.head)
    assert not AuditEvent.objects.filter(action__startswith="registry.").exists()


def test_household_phone_reveal_is_audited(users, hh):
    assert services.household_reveal_phone(actor=users.township, household=hh.household)
    assert AuditEvent.objects.filter(action="registry.household.reveal_phone").count() == 1


# ------------------------------------------------------------ places, organisations


def test_place_and_organisation_create(users, tree):
    place = services.place_create(
        actor=users.grid, grid=tree.grids["七星村1"], name="七星超市", kind="shop"
    )
    org = services.organisation_create(
        actor=users.cadre,
        grid=tree.grids["七星村1"],
        name="七星种养合作社",
        kind="cooperative",
        credit_code="93430300MA4L12345X",
        has_party_branch=True,
    )
    assert place.grid == org.grid == tree.grids["七星村1"]
    assert (
        AuditEvent.objects.filter(
            action__in=["registry.place.create", "registry.organisation.create"]
        ).count()
        == 2
    )


def test_place_outside_jurisdiction_and_bad_input_change_nothing(users, tree):
    before = snapshot()
    with pytest.raises(NotFoundError):
        services.place_create(actor=users.grid, grid=tree.grids["七星村2"], name="x", kind="shop")
    with pytest.raises(ValidationFailed):
        services.place_create(actor=users.grid, grid=tree.grids["七星村1"], name="x", kind="castle")
    with pytest.raises(ValidationFailed):
        services.organisation_create(
            actor=users.cadre,
            grid=tree.grids["七星村1"],
            name="x",
            kind="enterprise",
            credit_code="123",
        )
    assert snapshot() == before
