"""core.rows.unsaved builds the same instance as Model(**values): every column, the cached
related objects, the defaults; and the rows written from it are the same."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone as dj_timezone

from minqing.appeals.models import Appeal, AppealEvent
from minqing.appeals.tests.factories import category
from minqing.core.models import AuditEvent
from minqing.core.rows import unsaved

AT = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)


def _columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _same(model, **values):
    slow, quick = model(**values), unsaved(model, **values)
    assert type(quick) is model and quick._state.adding and quick._state.db is None
    a, b = _columns(quick), _columns(slow)
    for f in model._meta.concrete_fields:  # a default of "now": each call its own moment
        if f.attname not in values and f.name not in values and f.default is dj_timezone.now:
            assert abs(a.pop(f.attname) - b.pop(f.attname)) < timedelta(seconds=5)
    assert a == b
    for f in model._meta.concrete_fields:
        if f.is_relation:
            assert f.is_cached(quick) == f.is_cached(slow), f.name
            if f.is_cached(slow):
                assert f.get_cached_value(quick) is f.get_cached_value(slow)
    return quick


def test_an_appeal_as_intake_builds_it(tree, users):
    cat = category()
    appeal = _same(
        Appeal,
        kind="appeal",
        channel="web",
        category=cat,
        area=tree.qixing,
        handling_area=tree.qixing,
        household=None,
        title="路烂了",
        content="路烂了,下雨走不得",
        location="",
        contact_name="张三",
        contact_phone="13912345678",
        answers={"q": 1},
        latitude=None,
        longitude=None,
        parties="",
        created_by=users.cadre,
        created_at=AT,
        state_changed_at=AT,
        state="accepted",
        due_at=AT + timedelta(days=7),
        tracking_hash="ab" * 32,
    )
    assert appeal.category is cat and appeal.created_by is users.cadre  # no query
    assert appeal.household_id is None and appeal.escalations == 0  # a default


def test_an_event_and_an_audit_row_with_defaults_and_ids(tree, users):
    _same(AppealEvent, actor=None, actor_kind="anonymous", actor_label="群众", action="create")
    _same(AppealEvent, actor=users.cadre, at=AT, channel="web", to_state="accepted")
    row = _same(AuditEvent, actor=None, action="appeal.file", area_id=tree.qixing.pk, detail={})
    assert row.at is not None  # timezone.now default
    _same(AuditEvent, actor=users.cadre, area=tree.qixing, source_address="127.0.0.1")


def test_the_rows_saved_are_the_same(tree, users):
    values = {"actor": users.cadre, "action": "x.y", "area": tree.qixing, "detail": {"n": 1}}
    values["at"] = AT
    a, b = AuditEvent(**values), unsaved(AuditEvent, **values)
    a.save()
    b.save()
    rows = AuditEvent.objects.filter(pk__in=[a.pk, b.pk]).order_by("pk")
    first, second = (_columns(r) for r in rows)
    first.pop("id"), second.pop("id")
    assert first == second


def test_what_django_refuses_is_refused():
    with pytest.raises(TypeError):
        unsaved(AuditEvent, nonsense=1)
    with pytest.raises(ValueError):
        unsaved(AuditEvent, area="not an area")
