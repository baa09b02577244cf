"""Visit services: one transaction for a visit and what it raised; bad input refused with a
clear message and nothing written; idempotent offline upload; append-only after 24 hours."""

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from minqing.appeals.models import Appeal
from minqing.core.errors import Conflict, NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.models import AuditEvent
from minqing.registry.models import TagPeriod
from minqing.registry.tests.factories import period, tag
from minqing.visits import services
from minqing.visits.models import LastVisit, SyncConflict, Visit, VisitFinding, VisitNote
from minqing.visits.services import TagFinding

from .factories import household


def snapshot():
    return tuple(
        m.objects.count()
        for m in (Visit, VisitFinding, VisitNote, LastVisit, TagPeriod, Appeal, AuditEvent)
    )


@pytest.fixture
def hh(tree):
    return household(tree.grids["七星村1"], head="张德书", child="张小燕")


def members(hh):
    head = hh.members.get(relation="head")
    child = hh.members.get(relation="child")
    return head, child


def test_visit_with_findings_is_one_entry(users, hh):
    head, child = members(hh)
    today = timezone.localdate()
    v = services.visit_record(
        actor=users.grid,
        household=hh,
        situation="父母外出务工,孩子由爷爷照看",
        place="家中",
        met_members=[head.pk],
        met_others="邻居王婶",
        visitors=[users.cadre.pk],
        follow_up_date=today + timedelta(days=7),
        tags=[TagFinding(tag=tag("left_behind_child"), start_date=today, resident=child)],
        needs=["孩子上学交通不便"],
        disputes=["与邻居宅基地边界争议"],
    )
    assert v.grid_id == hh.grid_id
    assert set(v.visitors.all()) == {users.grid, users.cadre}
    assert list(v.met_members.all()) == [head]
    kinds = sorted(v.findings.values_list("kind", flat=True))
    assert kinds == ["dispute", "follow_up", "need", "tag"]
    need = v.findings.get(kind="need").appeal
    dispute = v.findings.get(kind="dispute").appeal
    assert (need.channel, need.kind, need.household_id) == ("visit", "appeal", hh.pk)
    assert (dispute.kind, dispute.content) == ("dispute", "与邻居宅基地边界争议")
    assert need.category.code == "other"
    finding = v.findings.get(kind="tag")
    assert finding.tag_period.resident == child
    assert TagPeriod.objects.filter(resident=child, tag__code="left_behind_child").count() == 1
    last = LastVisit.objects.get(household=hh)
    assert last.visited_at == v.visited_at and last.follow_up_date == today + timedelta(days=7)
    assert AuditEvent.objects.filter(action="visits.visit.record", target_id=str(v.pk)).count() == 1


def test_visited_at_defaults_to_now(users, hh):
    before = timezone.now()
    v = services.visit_record(actor=users.grid, household=hh, situation="在家")
    assert before <= v.visited_at <= timezone.now()


def test_a_failing_finding_rolls_back_the_whole_visit(users, hh):
    """The tag is already given: the tag service refuses, and the visit is not kept either."""
    _, child = members(hh)
    period(tag_code="left_behind_child", resident=child, start=date(2024, 1, 1))
    before = snapshot()
    with pytest.raises(Conflict):
        services.visit_record(
            actor=users.grid,
            household=hh,
            situation="再次走访",
            needs=["需要帮助"],
            tags=[
                TagFinding(
                    tag=tag("left_behind_child"), start_date=date(2024, 5, 1), resident=child
                )
            ],
        )
    assert snapshot() == before


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"situation": "   "}, ValidationFailed),
        ({"situation": "x", "visited_at": "FUTURE"}, ValidationFailed),
        ({"situation": "x", "follow_up_date": date(2000, 1, 1)}, ValidationFailed),
        ({"situation": "x", "met_members": ["OTHER"]}, ValidationFailed),
        ({"situation": "x", "visitors": ["OUTSIDER"]}, ValidationFailed),
        ({"situation": "x", "tags": ["FUTURE_TAG"]}, ValidationFailed),
        ({"situation": "x", "needs": ["修路"], "need_category": 999999}, ValidationFailed),
    ],
)
def test_bad_input_is_refused_and_nothing_written(users, tree, hh, kwargs, error):
    other = household(tree.grids["七星村2"])
    replace = {
        "FUTURE": timezone.now() + timedelta(hours=2),
        "OTHER": other.members.first().pk,
        "OUTSIDER": users.outsider.pk,
        "FUTURE_TAG": TagFinding(
            tag=tag("dibao"), start_date=timezone.localdate() + timedelta(days=3)
        ),
    }
    for key, value in list(kwargs.items()):
        if isinstance(value, str) and value in replace:
            kwargs[key] = replace[value]
        elif isinstance(value, list):
            kwargs[key] = [replace.get(x, x) if isinstance(x, str) else x for x in value]
    before = snapshot()
    with pytest.raises(error) as exc:
        services.visit_record(actor=users.cadre, household=hh, **kwargs)
    assert str(exc.value.message)
    assert snapshot() == before


def test_empty_situation_message_is_clear(users, hh):
    with pytest.raises(ValidationFailed) as exc:
        services.visit_record(actor=users.grid, household=hh, situation="")
    assert "走访情况不能为空" in str(exc.value.message)


def test_future_time_message_is_clear(users, hh):
    with pytest.raises(ValidationFailed) as exc:
        services.visit_record(
            actor=users.grid,
            household=hh,
            situation="x",
            visited_at=timezone.now() + timedelta(days=1),
        )
    assert "不能晚于现在" in str(exc.value.message)


def test_household_outside_jurisdiction_is_not_found(users, tree):
    outside = household(tree.grids["鹤岭村1"])
    before = snapshot()
    with pytest.raises(NotFoundError):
        services.visit_record(actor=users.grid, household=outside, situation="x")
    # a grid worker of 七星村 grid 1 cannot visit grid 2 either
    with pytest.raises(NotFoundError):
        services.visit_record(
            actor=users.grid, household=household(tree.grids["七星村2"]), situation="x"
        )
    assert snapshot()[0] == before[0]


def test_roles_without_visit_right_are_refused(users, hh):
    with pytest.raises(PermissionDeniedError):
        services.visit_record(actor=users.supervisor, household=hh, situation="x")


def test_duplicate_offline_upload_answers_with_the_stored_visit(users, hh):
    cid = uuid.uuid4()
    first = services.visit_record(
        actor=users.grid, household=hh, situation="离线登记", client_id=cid, needs=["修路"]
    )
    before = snapshot()
    again = services.visit_record(
        actor=users.grid, household=hh, situation="离线登记", client_id=str(cid), needs=["修路"]
    )
    assert again.pk == first.pk
    assert snapshot() == before


def test_client_id_of_a_visit_outside_the_jurisdiction_is_a_conflict(users, tree, hh):
    cid = uuid.uuid4()
    outside = household(tree.grids["鹤岭村1"])
    services.visit_record(actor=users.outsider, household=outside, situation="x", client_id=cid)
    with pytest.raises(Conflict):
        services.visit_record(actor=users.grid, household=hh, situation="x", client_id=cid)


def test_last_visit_keeps_the_latest_even_when_an_older_visit_arrives_later(users, hh):
    now = timezone.now()
    services.visit_record(actor=users.grid, household=hh, situation="新", visited_at=now)
    services.visit_record(
        actor=users.grid, household=hh, situation="旧(离线补传)", visited_at=now - timedelta(days=3)
    )
    assert LastVisit.objects.get(household=hh).visited_at == now


def test_recorder_may_edit_within_24_hours(users, hh):
    v = services.visit_record(actor=users.grid, household=hh, situation="初稿")
    services.visit_update(actor=users.grid, visit=v, situation="改正后")
    v.refresh_from_db()
    assert v.situation == "改正后"


def test_after_24_hours_the_visit_is_not_edited_but_noted(users, hh):
    v = services.visit_record(actor=users.grid, household=hh, situation="原始记录")
    Visit.objects.filter(pk=v.pk).update(created_at=timezone.now() - timedelta(hours=25))
    with pytest.raises(Conflict) as exc:
        services.visit_update(actor=users.grid, visit=v, situation="偷偷改")
    assert "24 小时" in str(exc.value.message)
    v.refresh_from_db()
    assert v.situation == "原始记录"
    note = services.visit_add_note(actor=users.grid, visit=v, text="补充:已联系村医")
    assert list(v.notes.all()) == [note]


def test_others_may_not_edit_a_visit(users, hh):
    v = services.visit_record(actor=users.grid, household=hh, situation="原始记录")
    with pytest.raises(Conflict):
        services.visit_update(actor=users.cadre, visit=v, situation="改")


def test_notes_are_append_only(users, hh):
    v = services.visit_record(actor=users.grid, household=hh, situation="x")
    note = services.visit_add_note(actor=users.grid, visit=v, text="补记")
    note.text = "改"
    with pytest.raises(ValueError):
        note.save()
    with pytest.raises(ValueError):
        note.delete()


def test_outsider_cannot_note_or_edit(users, hh):
    v = services.visit_record(actor=users.grid, household=hh, situation="x")
    with pytest.raises(NotFoundError):
        services.visit_add_note(actor=users.outsider, visit=v, text="x")
    with pytest.raises(NotFoundError):
        services.visit_update(actor=users.outsider, visit=v, situation="x")


def _plain(hh, **extra):
    return {"client_id": str(uuid.uuid4()), "household_id": hh.pk, "situation": "离线走访"} | extra


def test_sync_batch_checks_each_visit_like_the_form(users, tree, hh):
    head, child = members(hh)
    other = household(tree.grids["七星村2"])
    now = timezone.now()
    items = [
        _plain(
            hh, met_member_ids=[child.pk], visitor_ids=[users.cadre.pk], visited_at=now.isoformat()
        ),
        _plain(hh, met_member_ids=[other.members.first().pk]),  # not a member here
        _plain(hh, visitor_ids=[users.outsider.pk]),  # not responsible for the grid
        _plain(hh, situation=" "),
        _plain(hh, visited_at=(now + timedelta(days=1)).isoformat()),
        _plain(
            hh,
            follow_up_date=(timezone.localdate() + timedelta(days=5)).isoformat(),
            visited_at=(now - timedelta(hours=1)).isoformat(),
        ),
        _plain(hh, needs=["修路"]),  # goes through visit_record
    ]
    results = services.visit_sync(actor=users.grid, items=items)
    assert [r["status"] for r in results] == [
        "created",
        "conflict",
        "conflict",
        "conflict",
        "conflict",
        "created",
        "created",
    ]
    assert "本户成员" in results[1]["detail"] and "负责" in results[2]["detail"]
    assert "不能为空" in results[3]["detail"] and "晚于现在" in results[4]["detail"]
    first = Visit.objects.get(pk=results[0]["visit_id"])
    assert set(first.visitors.all()) == {users.grid, users.cadre}
    assert list(first.met_members.all()) == [child]
    assert Visit.objects.get(pk=results[5]["visit_id"]).findings.get().kind == "follow_up"
    last = LastVisit.objects.get(household=hh)
    assert last.visited_at == max(
        Visit.objects.filter(household=hh).values_list("visited_at", flat=True)
    )
    assert AuditEvent.objects.filter(action="visits.visit.record").count() == 3
    # the same batch again: nothing new
    before = snapshot()
    again = services.visit_sync(actor=users.grid, items=items)
    assert [r["status"] for r in again] == [
        "duplicate",
        "conflict",
        "conflict",
        "conflict",
        "conflict",
        "duplicate",
        "duplicate",
    ]
    assert snapshot() == before


def test_sync_batch_query_count_does_not_grow(users, tree, django_assert_max_num_queries):
    homes = [household(tree.grids["七星村1"]) for _ in range(4)]
    users.grid.jurisdiction_paths()
    with django_assert_max_num_queries(8) as small:  # 2 savepoint statements included
        services.visit_sync(actor=users.grid, items=[_plain(h) for h in homes])
    with django_assert_max_num_queries(8) as big:
        services.visit_sync(actor=users.grid, items=[_plain(h) for h in homes * 10])
    assert len(big.captured_queries) == len(small.captured_queries)
    assert Visit.objects.count() == 44


def test_sync_stores_a_client_id_twice_in_one_batch_once(users, hh):
    item = _plain(hh)
    changed = dict(item, situation="同一编号的另一份")  # the first copy counts
    results = services.visit_sync(actor=users.grid, items=[item, _plain(hh), changed])
    assert [r["status"] for r in results] == ["created", "created", "duplicate"]
    assert results[2]["visit_id"] == results[0]["visit_id"]
    assert Visit.objects.count() == 2
    assert Visit.objects.get(client_id=item["client_id"]).situation == "离线走访"
    assert AuditEvent.objects.filter(action="visits.visit.record").count() == 2


def test_sync_duplicates_across_batches_write_nothing(users, hh):
    batch = [_plain(hh) for _ in range(3)]
    services.visit_sync(actor=users.grid, items=batch)
    before = snapshot()
    results = services.visit_sync(actor=users.grid, items=[batch[1], _plain(hh), batch[0]])
    assert [r["status"] for r in results] == ["duplicate", "created", "duplicate"]
    assert Visit.objects.count() == 4
    assert snapshot()[0] == before[0] + 1
    assert AuditEvent.objects.filter(action="visits.visit.record").count() == 4
    event = AuditEvent.objects.filter(action="visits.visit.record").last()
    assert event.detail["offline"] is True and event.detail["household"] == hh.number
    assert event.target_type == "visits.visit" and event.area_id == hh.grid_id


def test_sync_keeps_a_conflict_among_good_visits(users, tree, hh):
    outside = household(tree.grids["鹤岭村1"])
    items = [_plain(hh), _plain(outside, situation="迁出"), _plain(hh, situation="")]
    items += [_plain(hh)]
    results = services.visit_sync(actor=users.grid, items=items)
    assert [r["status"] for r in results] == ["created", "conflict", "conflict", "created"]
    assert Visit.objects.count() == 2 and SyncConflict.objects.count() == 2
    kept = SyncConflict.objects.get(client_id=items[1]["client_id"])
    assert kept.user == users.grid and kept.payload["situation"] == "迁出"
    assert results[1]["conflict_id"] == kept.pk and "管辖范围" in results[1]["detail"]
    assert AuditEvent.objects.filter(action="visits.sync.conflict").count() == 2
    # sent again: the same answers, nothing new
    before = snapshot()
    again = services.visit_sync(actor=users.grid, items=items)
    assert [r["status"] for r in again] == ["duplicate", "conflict", "conflict", "duplicate"]
    assert again[1]["conflict_id"] == kept.pk and snapshot() == before


def test_sync_client_id_of_another_users_upload_is_refused_for_that_item(users, hh):
    mine = _plain(hh)
    services.visit_sync(actor=users.grid, items=[mine])
    theirs = _plain(hh)
    results = services.visit_sync(actor=users.cadre, items=[dict(mine), theirs])
    assert [r["status"] for r in results] == ["conflict", "created"]
    assert results[0]["visit_id"] is None and "已被使用" in results[0]["detail"]
    assert Visit.objects.get(client_id=mine["client_id"]).recorded_by == users.grid


def test_sync_insert_skips_an_id_stored_meanwhile(users, hh, monkeypatch):
    """A concurrent upload stores an id between the batch's read and its insert: the
    insert skips it (ON CONFLICT) and the item answers duplicate."""
    item = _plain(hh)
    real = services._check_plain

    def racing(actor, p, **kw):
        if p is item and not Visit.objects.filter(client_id=item["client_id"]).exists():
            services.visit_record(
                actor=users.grid, household=hh, situation="并发", client_id=item["client_id"]
            )
        return real(actor, p, **kw)

    monkeypatch.setattr(services, "_check_plain", racing)
    results = services.visit_sync(actor=users.grid, items=[item, _plain(hh)])
    assert [r["status"] for r in results] == ["duplicate", "created"]
    assert Visit.objects.get(client_id=item["client_id"]).situation == "并发"


def _png_with_text_chunk() -> bytes:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("GPS", "27.8N 112.9E")
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_photos_are_kept_without_metadata(users, hh, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    photo = SimpleUploadedFile("door.png", _png_with_text_chunk(), content_type="image/png")
    v = services.visit_record(actor=users.grid, household=hh, situation="x", photos=[photo])
    stored = v.photos.get()
    assert stored.content_type == "image/png"
    assert b"27.8N" not in stored.file.open("rb").read()


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("note.png", b"MZ\x90\x00 this is an exe", "只能上传图片"),
        ("report.pdf", b"%PDF-1.4 a pdf", "只能是图片"),
        ("fake.jpg", b"\x89PNG\r\n\x1a\n not really", "扩展名不符"),
    ],
)
def test_non_image_photo_is_refused_and_nothing_written(
    users, hh, settings, tmp_path, name, data, words
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        services.visit_record(
            actor=users.grid, household=hh, situation="x", photos=[SimpleUploadedFile(name, data)]
        )
    assert words in str(exc.value.message)
    assert snapshot() == before and not any(tmp_path.rglob("*.*"))


def test_sync_batch_keeps_the_latest_visit(users, hh):
    now = timezone.now()
    services.visit_record(actor=users.grid, household=hh, situation="新", visited_at=now)
    services.visit_sync(
        actor=users.grid,
        items=[_plain(hh, visited_at=(now - timedelta(days=2)).isoformat())],
    )
    assert LastVisit.objects.get(household=hh).visited_at == now
    later = now + timedelta(seconds=1)
    services.visit_sync(
        actor=users.grid,
        items=[
            _plain(
                hh, visited_at=later.isoformat(), follow_up_date=timezone.localdate().isoformat()
            )
        ],
    )
    last = LastVisit.objects.get(household=hh)
    assert last.visited_at == later and last.follow_up_date == timezone.localdate()


def test_offline_photo_added_once_by_the_recorder_only(users, hh, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from minqing.visits.models import VisitPhoto

    settings.MEDIA_ROOT = tmp_path
    synced = services.visit_sync(actor=users.grid, items=[_plain(hh)])[0]
    visit = Visit.objects.get(pk=synced["visit_id"])
    pid = str(uuid.uuid4())

    def png():
        return SimpleUploadedFile("a.png", _png_with_text_chunk())

    first = services.visit_photo_add(actor=users.grid, visit=visit, upload=png(), client_id=pid)
    again = services.visit_photo_add(actor=users.grid, visit=visit, upload=png(), client_id=pid)
    assert first.pk == again.pk and VisitPhoto.objects.count() == 1
    assert AuditEvent.objects.filter(action="visits.visit.photo").count() == 1
    with pytest.raises(ValidationFailed):  # not an image
        services.visit_photo_add(
            actor=users.grid,
            visit=visit,
            upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4 x"),
            client_id=str(uuid.uuid4()),
        )
    with pytest.raises(Conflict):  # someone else's visit
        services.visit_photo_add(
            actor=users.cadre, visit=visit, upload=png(), client_id=str(uuid.uuid4())
        )
    online = services.visit_record(actor=users.grid, household=hh, situation="在线")
    with pytest.raises(Conflict):  # a visit recorded online takes photos in its own form
        services.visit_photo_add(
            actor=users.grid, visit=online, upload=png(), client_id=str(uuid.uuid4())
        )
    with pytest.raises(NotFoundError):
        services.visit_photo_add(
            actor=users.outsider, visit=visit, upload=png(), client_id=str(uuid.uuid4())
        )
    assert VisitPhoto.objects.count() == 1
