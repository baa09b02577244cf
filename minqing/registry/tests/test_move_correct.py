"""更正: a wrong 户间迁移 / 迁出 / 死亡 is undone by a dated correction row with a reason; the
author may correct on the day, the township later; history is kept, nothing is deleted."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from minqing.core.errors import Conflict, NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.idcard import make_id_number
from minqing.core.models import AuditEvent
from minqing.registry import services
from minqing.registry.models import Household, Move, Relation, Resident, ResidentStatus, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period

D = date(2024, 3, 1)


@pytest.fixture
def hh(tree):
    source = HouseholdFactory(grid=tree.grids["七星村1"], number="H-1", address="七星村1组1号")
    target = HouseholdFactory(grid=tree.grids["七星村2"], number="H-2", address="七星村2组2号")
    head = ResidentFactory(
        household=source,
        name="张德书",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1962, 5, 8), 111),
    )
    source.head = head
    source.save()
    other = ResidentFactory(
        household=target,
        name="廖生海",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1970, 1, 1), 333),
    )
    target.head = other
    target.save()
    child = ResidentFactory(
        household=source,
        name="张涛",
        relation=Relation.CHILD,
        id_number=make_id_number("430302", date(2014, 9, 1), 222),
    )
    return type("HH", (), {"source": source, "target": target, "head": head, "child": child})


def rows():
    return (Move.objects.count(), TagPeriod.objects.count(), AuditEvent.objects.count())


def test_household_is_named_after_its_head(hh):
    assert hh.source.name == "张德书户"
    assert hh.source.label == "张德书户 · 七星村1组1号"
    headless = HouseholdFactory(grid=hh.source.grid, number="H-9", address="七星村9号")
    assert headless.name == "户 H-9"


def test_author_corrects_a_transfer_the_same_day(users, hh):
    period(tag_code="disabled", resident=hh.child, start=D)
    move = services.resident_move(
        actor=users.cadre, resident=hh.child, kind="transfer", date=D, to_household=hh.target
    )
    correction = services.resident_move_correct(actor=users.cadre, move=move, reason="迁错了户")
    hh.child.refresh_from_db()
    assert (hh.child.household, hh.child.relation, hh.child.status) == (
        hh.source,
        Relation.CHILD,
        ResidentStatus.LIVING,
    )
    assert correction.kind == Move.Kind.CORRECTION and correction.corrects == move
    assert (correction.reason, correction.actor, correction.date) == (
        "迁错了户",
        users.cadre,
        timezone.localdate(),
    )
    assert Move.objects.filter(pk=move.pk).exists()  # the wrong move is kept
    # the personal tag is open again in the source household; the one the move opened in the
    # target never applied there (ends on the day it began)
    open_periods = TagPeriod.objects.filter(resident=hh.child, end_date__isnull=True)
    assert [p.household_id for p in open_periods] == [hh.source.pk]
    assert not TagPeriod.objects.filter(resident=hh.child, household=hh.target).on(D).exists()
    event = AuditEvent.objects.get(action="registry.resident.move_correct")
    assert event.detail["reason"] == "迁错了户" and event.detail["move"] == move.pk


def test_a_wrongly_registered_death_comes_back_to_life(users, hh):
    move = services.resident_move(actor=users.cadre, resident=hh.head, kind="death", date=D)
    hh.source.refresh_from_db()
    assert hh.source.head_id is None
    services.resident_move_correct(actor=users.cadre, move=move, reason="登记错人")
    hh.head.refresh_from_db()
    hh.source.refresh_from_db()
    assert hh.head.status == ResidentStatus.LIVING and hh.head.relation == Relation.HEAD
    assert hh.source.head_id == hh.head.pk


def test_after_the_day_only_the_township_corrects(users, hh):
    move = services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    Move.objects.filter(pk=move.pk).update(created_at=timezone.now() - timedelta(days=2))
    move.refresh_from_db()
    before = rows()
    with pytest.raises(PermissionDeniedError):
        services.resident_move_correct(actor=users.cadre, move=move, reason="迁出有误")
    assert rows() == before
    assert not services.move_correctable_by(users.cadre, move)
    assert services.move_correctable_by(users.township, move)
    services.resident_move_correct(actor=users.township, move=move, reason="迁出有误")
    hh.child.refresh_from_db()
    assert hh.child.status == ResidentStatus.LIVING


def test_another_cadre_cannot_correct_the_authors_move_the_same_day(users, hh):
    move = services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    before = rows()
    with pytest.raises(PermissionDeniedError):
        services.resident_move_correct(actor=users.grid, move=move, reason="x")
    assert rows() == before


@pytest.mark.parametrize("who", ["leader", "supervisor", "dept"])
def test_roles_that_cannot_edit_cannot_correct(users, hh, who):
    move = services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    with pytest.raises(PermissionDeniedError):
        services.resident_move_correct(actor=getattr(users, who), move=move, reason="x")


def test_outside_the_jurisdiction_is_not_found(users, hh):
    move = services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    before = rows()
    with pytest.raises(NotFoundError):
        services.resident_move_correct(actor=users.outsider, move=move, reason="x")
    assert rows() == before


def test_a_reason_is_required_and_a_move_is_corrected_once(users, hh):
    move = services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    before = rows()
    with pytest.raises(ValidationFailed):
        services.resident_move_correct(actor=users.cadre, move=move, reason="  ")
    assert rows() == before
    services.resident_move_correct(actor=users.cadre, move=move, reason="误操作")
    with pytest.raises(Conflict):
        services.resident_move_correct(actor=users.township, move=move, reason="再来一次")


def test_only_the_latest_move_is_corrected(users, hh):
    first = services.resident_move(
        actor=users.cadre, resident=hh.child, kind="transfer", date=D, to_household=hh.target
    )
    services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    with pytest.raises(Conflict):
        services.resident_move_correct(actor=users.cadre, move=first, reason="x")


def test_a_correction_does_not_block_the_right_move_on_the_original_date(users, hh):
    move = services.resident_move(
        actor=users.cadre, resident=hh.child, kind="transfer", date=D, to_household=hh.target
    )
    services.resident_move_correct(actor=users.cadre, move=move, reason="先更正")
    services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    assert Resident.objects.get(pk=hh.child.pk).status == ResidentStatus.MOVED_OUT


def test_move_ins_cannot_be_corrected(users, hh):
    services.resident_move(actor=users.cadre, resident=hh.child, kind="out", date=D)
    back = services.resident_move(actor=users.cadre, resident=hh.child, kind="in", date=D)
    with pytest.raises(ValidationFailed):
        services.resident_move_correct(actor=users.township, move=back, reason="x")
    assert Household.objects.count() == 2


def test_a_corrected_death_reopens_the_personal_tags_even_if_registered_in_english(users, hh):
    from django.utils import translation

    period(tag_code="disabled", resident=hh.child, start=D)
    with translation.override("en"):
        move = services.resident_move(actor=users.cadre, resident=hh.child, kind="death", date=D)
    closed = TagPeriod.objects.get(resident=hh.child)
    assert closed.end_date == D
    services.resident_move_correct(actor=users.cadre, move=move, reason="登记错人")
    closed.refresh_from_db()
    assert closed.end_date is None and closed.ended_by is None


def test_a_tag_given_after_the_transfer_blocks_its_correction(users, hh):
    move = services.resident_move(
        actor=users.cadre, resident=hh.child, kind="transfer", date=D, to_household=hh.target
    )
    hh.child.refresh_from_db()
    period(tag_code="disabled", resident=hh.child, start=D + timedelta(days=3))
    before = rows()
    with pytest.raises(Conflict):
        services.resident_move_correct(actor=users.cadre, move=move, reason="x")
    assert rows() == before
