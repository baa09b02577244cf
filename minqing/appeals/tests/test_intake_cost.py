"""What one intake costs: queries pinned, the per-process copies of categories, areas and the
holiday calendar, and their invalidation when an administrator changes them."""

import json
from datetime import date

import pytest
from django.db import connection
from django.test import Client

from minqing.appeals.models import Appeal, AppealEvent, Category
from minqing.appeals.services import active_category, cached_area
from minqing.appeals.tests.factories import category
from minqing.core.deadlines import add_working_days
from minqing.core.models import AuditEvent, CalendarDay, Notification


def _file(client, **data):
    return client.post(
        "/api/appeals/public/appeals", json.dumps(data), content_type="application/json"
    )


def test_public_intake_query_count_is_pinned(tree, users, django_assert_num_queries):
    anon = Client()
    data = {"category_id": category().pk, "area_id": tree.qixing.pk, "content": "路烂了"}
    assert _file(anon, **data).status_code == 201  # warm the per-process copies
    # PostgreSQL: ONE statement writing the appeal, its CREATE event, the audit row and the
    # inbox rows (atomic by itself, no BEGIN/COMMIT). SQLite: SAVEPOINT, the four INSERTs
    # one by one, RELEASE. It was 9 plus a second transaction for the inbox.
    expected = 1 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(expected):
        r = _file(anon, **data)
    assert r.status_code == 201, r.content
    appeal = Appeal.objects.get(pk=r.json()["id"])
    event = AppealEvent.objects.get(appeal=appeal)
    assert (event.action, event.to_state, event.actor_kind, event.channel) == (
        "create",
        "accepted",
        "anonymous",
        "web",
    )
    assert appeal.state == "accepted" and appeal.due_at is not None
    # the village's cadre is told (the grid worker holds a grid, not the village)
    told = set(
        Notification.objects.filter(url=f"/appeals/{appeal.pk}/").values_list(
            "recipient", flat=True
        )
    )
    assert told == {users.cadre.pk}


def test_a_failed_intake_leaves_no_notification(tree, users, monkeypatch):
    """A failure after the rows are written (an on_enter hook) rolls all of them back."""
    from minqing.appeals import services
    from minqing.appeals.workflow import APPEAL_FLOW

    def boom(case, event):
        raise RuntimeError("hook failed")

    monkeypatch.setitem(APPEAL_FLOW.on_enter, "accepted", boom)
    counts = (Notification.objects.count(), Appeal.objects.count(), AppealEvent.objects.count())
    audits = AuditEvent.objects.count()
    with pytest.raises(RuntimeError):
        services.appeal_file(
            actor=None,
            channel="web",
            category_id=category().pk,
            area_id=tree.qixing.pk,
            content="x",
        )
    assert (
        Notification.objects.count(),
        Appeal.objects.count(),
        AppealEvent.objects.count(),
    ) == counts
    assert AuditEvent.objects.count() == audits


def test_a_deactivated_category_is_refused_at_once(tree, db):
    cat = category("water")
    assert active_category(cat.pk) == cat
    cat.is_active = False
    cat.save()
    assert active_category(cat.pk) is None
    anon = Client()
    r = _file(anon, category_id=cat.pk, area_id=tree.qixing.pk, content="冇得水")
    assert r.status_code == 400 and Appeal.objects.count() == 0


def test_a_new_category_is_usable_at_once(tree, db):
    assert active_category(category().pk) is not None  # load the copy
    new = Category.objects.create(code="bridge", name="桥梁", description="桥")
    assert active_category(new.pk) == new


def test_an_edited_holiday_moves_deadlines_at_once(db):
    start = date(2026, 11, 27)  # a Friday
    assert add_working_days(start, 1) == date(2026, 11, 30)
    CalendarDay.objects.create(date=date(2026, 11, 30), kind="holiday", name="测试")
    assert add_working_days(start, 1) == date(2026, 12, 1)
    CalendarDay.objects.filter(date=date(2026, 11, 30)).delete()  # a queryset delete: signals
    assert add_working_days(start, 1) == date(2026, 11, 30)


def test_a_renamed_area_is_seen_at_once(tree):
    assert cached_area(tree.qixing.pk).name == "七星村"
    tree.qixing.name = "七星社区"
    tree.qixing.save()
    assert cached_area(tree.qixing.pk).name == "七星社区"
    assert cached_area(10**9) is None and cached_area("x") is None


def test_other_processes_reload_after_the_version_moves(
    tree, db, django_capture_on_commit_callbacks
):
    """Another process holds a copy: the shared version moves on commit, and its copy is
    dropped at its next check (simulated by clearing only the local copy's check time)."""
    from minqing.core import proc_cache

    cat = category("road")
    active_category(cat.pk)
    entry = proc_cache._local["appeal-categories"]
    with django_capture_on_commit_callbacks(execute=True):
        Category.objects.filter(pk=cat.pk).update(name="道路")  # no signal: stays cached
        proc_cache.process_cache_bump("appeal-categories")
    proc_cache._local["appeal-categories"] = entry  # as if this process had not seen it
    entry.checked -= proc_cache.CHECK_EVERY + 1
    assert active_category(cat.pk).name == "道路"


def _rows(appeal):
    """What one intake wrote, without ids, times and the hash; its id in texts as "PK"."""
    skip = {"id", "appeal_id", "created_at", "state_changed_at", "at", "due_at", "tracking_hash"}

    def clean(rows):
        return [
            {
                k: v.replace(str(appeal.pk), "PK") if isinstance(v, str) else v
                for k, v in r.items()
                if k not in skip
            }
            for r in rows
        ]

    return (
        clean(Appeal.objects.filter(pk=appeal.pk).values()),
        clean(AppealEvent.objects.filter(appeal=appeal).values()),
        clean(AuditEvent.objects.filter(target_id=str(appeal.pk)).values()),
        clean(
            Notification.objects.filter(url=f"/appeals/{appeal.pk}/")
            .order_by("recipient")
            .values("recipient", "kind", "title", "body", "url")
        ),
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL")
def test_the_compiled_intake_statement_writes_what_the_built_one_does(tree, users, monkeypatch):
    """The intake statement's text is compiled once per process and shape (every value a
    parameter, NULL and the empty text too; the new id put into texts by the database):
    the same rows as the statement built per call, whatever the NULL pattern; one text
    object for every intake of a shape; a resident's words that look like the stand-in id
    are left as they are (the built statement made them the new id)."""
    from minqing.appeals.services import appeal_file
    from minqing.core import workflow

    def filed(**kw):
        appeal, _code = appeal_file(
            channel=kw.pop("channel", "web"),
            category_id=category().pk,
            area_id=tree.qixing.pk,
            **kw,
        )
        return appeal

    shapes = [
        {"actor": None, "content": "路烂了"},
        {
            "actor": users.cadre,
            "channel": "officer",
            "content": "路烂了",
            "contact_phone": "13800000000",
            "latitude": 27.1,
            "longitude": 111.2,
        },
    ]
    for kw in shapes:
        compiled = filed(**kw)
        texts = dict(workflow._COMPILED)
        assert texts
        filed(**kw)
        assert workflow._COMPILED == texts  # one text per shape, kept
        monkeypatch.setattr(workflow, "_compiled_create", lambda *a: None)
        built = filed(**kw)
        monkeypatch.undo()
        assert _rows(compiled) == _rows(built)
        assert _rows(compiled)[2][0]["target_repr"] == "#PK 路烂了"
        assert _rows(compiled)[3] == [
            {
                "recipient": users.cadre.pk,
                "kind": "appeal.new",
                "title": "新诉求待认领:路烂了",
                "body": "",
                "url": "/appeals/PK/",
            }
        ]
    title = f"路烂了 {workflow._PK_SENTINEL}"
    appeal = filed(actor=None, content="路烂了", title=title)
    assert Notification.objects.get(url=f"/appeals/{appeal.pk}/").title == f"新诉求待认领:{title}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL")
def test_intake_without_prepared_statements_takes_the_built_statement(tree, users, settings):
    """DB_PREPARED_WRITES=0 (pgbouncer in transaction mode): the plain cursor, the statement
    built per call with %s placeholders; the same rows."""
    settings.DB_PREPARED_WRITES = False
    r = _file(Client(), category_id=category().pk, area_id=tree.qixing.pk, content="路烂了")
    assert r.status_code == 201, r.content
    appeal = Appeal.objects.get(pk=r.json()["id"])
    assert _rows(appeal)[1][0]["action"] == "create"
    assert _rows(appeal)[3][0]["url"] == "/appeals/PK/"
