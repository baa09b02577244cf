"""A resident's status on the case kernel (core.workflow, the pilot): every 迁出 / 死亡 /
迁入 / 户间迁移 / 更正 is a ResidentEvent linked to its Move, the status is its cache,
the guards hold, and check_workflows reports drift for residents too."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from minqing.core.errors import IllegalTransition, NotFoundError, ValidationFailed
from minqing.core.idcard import make_id_number
from minqing.core.workflow import registered_workflows, workflow_apply, workflow_check
from minqing.registry import services
from minqing.registry.models import (
    RESIDENT_FLOW,
    Move,
    Relation,
    Resident,
    ResidentEvent,
    ResidentStatus,
)
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory


@pytest.fixture
def person(tree):
    home = HouseholdFactory(grid=tree.grids["七星村1"], number="H-1", address="七星村1组1号")
    other = HouseholdFactory(grid=tree.grids["七星村2"], number="H-2", address="七星村2组2号")
    p = ResidentFactory(
        household=home,
        name="张涛",
        relation=Relation.CHILD,
        id_number=make_id_number("430302", date(1990, 9, 1), 222),
    )
    return type("P", (), {"resident": p, "home": home, "other": other})


def reg():
    return registered_workflows()["resident"]


def history(resident):
    return list(
        ResidentEvent.objects.filter(resident=resident)
        .order_by("at", "id")
        .values_list("action", "from_state", "to_state", "move__kind")
    )


def test_every_status_change_is_an_event_linked_to_its_move(users, person):
    r = person.resident
    services.resident_move(
        actor=users.cadre,
        resident=r,
        kind="transfer",
        date=date(2024, 1, 2),
        to_household=person.other,
    )
    services.resident_move(
        actor=users.cadre, resident=r, kind="out", date=date(2024, 2, 1), reason="外出务工"
    )
    services.resident_move(
        actor=users.cadre, resident=r, kind="in", date=date(2024, 3, 1), to_household=person.home
    )
    services.resident_move(actor=users.cadre, resident=r, kind="death", date=date(2024, 4, 1))
    assert history(r) == [
        ("transfer", "living", "living", "transfer"),
        ("out", "living", "moved_out", "out"),
        ("in", "moved_out", "living", "in"),
        ("death", "living", "deceased", "death"),
    ]
    r.refresh_from_db()
    assert r.status == ResidentStatus.DECEASED
    event = ResidentEvent.objects.get(resident=r, action="out")
    assert (
        event.actor == users.cadre and event.comment == "外出务工" and event.actor_kind == "staff"
    )
    assert workflow_check(reg()) == []


def test_a_correction_is_an_event_back_to_living(users, person):
    r = person.resident
    move = services.resident_move(
        actor=users.cadre, resident=r, kind="death", date=date(2024, 4, 1)
    )
    services.resident_move_correct(actor=users.cadre, move=move, reason="登记错了人")
    assert [h[:3] for h in history(r)] == [
        ("death", "living", "deceased"),
        ("correction", "deceased", "living"),
    ]
    r.refresh_from_db()
    assert r.status == ResidentStatus.LIVING
    assert workflow_check(reg()) == []


def test_a_refused_move_writes_no_event(users, person):
    r = person.resident
    with pytest.raises(ValidationFailed):
        services.resident_move(actor=users.cadre, resident=r, kind="in", date=date(2024, 1, 2))
    with pytest.raises(NotFoundError):
        services.resident_move(actor=users.outsider, resident=r, kind="out", date=date(2024, 1, 2))
    assert not ResidentEvent.objects.exists() and not Move.objects.exists()


def test_the_table_refuses_what_the_services_refuse(users, person):
    """A status change outside the table raises IllegalTransition even when called directly."""
    r = person.resident
    with pytest.raises(IllegalTransition):
        workflow_apply(workflow=RESIDENT_FLOW, case=r, actor=users.cadre, action="in")
    r.status = ResidentStatus.DECEASED
    with pytest.raises(IllegalTransition):
        workflow_apply(workflow=RESIDENT_FLOW, case=r, actor=users.cadre, action="death")
    assert not ResidentEvent.objects.exists()


def test_the_guard_refuses_a_person_outside_the_jurisdiction(users, person):
    """Even called directly (no service's scope check first), the workflow's object guard
    answers as for a missing person."""
    with pytest.raises(NotFoundError):
        workflow_apply(
            workflow=RESIDENT_FLOW, case=person.resident, actor=users.outsider, action="out"
        )
    assert not ResidentEvent.objects.exists()


def test_check_workflows_reports_drift_for_residents(users, person):
    r = person.resident
    services.resident_move(actor=users.cadre, resident=r, kind="out", date=date(2024, 2, 1))
    # an imported person with a status and no events yet is left alone (adopted)
    imported = ResidentFactory(
        household=person.home,
        name="李四",
        id_number=make_id_number("430302", date(1950, 1, 1), 555),
        status=ResidentStatus.DECEASED,
    )
    assert workflow_check(reg()) == []
    Resident.objects.filter(pk=r.pk).update(status=ResidentStatus.LIVING)  # hand-edited
    assert workflow_check(reg()) == [(r.pk, "living", "moved_out")]
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("check_workflows", stdout=out)
    assert f"resident #{r.pk}: cached 'living', events say 'moved_out'" in out.getvalue()
    call_command("check_workflows", "--fix", stdout=StringIO())
    r.refresh_from_db()
    imported.refresh_from_db()
    assert r.status == ResidentStatus.MOVED_OUT and imported.status == ResidentStatus.DECEASED
    assert workflow_check(reg()) == []


def test_an_adopted_history_starts_at_its_first_event(users, person):
    """A person imported as moved out (no events) who moves back in: the history starts
    at 'moved_out' and replays clean."""
    r = person.resident
    Resident.objects.filter(pk=r.pk).update(status=ResidentStatus.MOVED_OUT)
    r.refresh_from_db()
    services.resident_move(actor=users.cadre, resident=r, kind="in", date=date(2024, 3, 1))
    assert workflow_check(reg()) == []
