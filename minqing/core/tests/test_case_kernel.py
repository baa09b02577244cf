"""The rest of the case kernel, each piece against the real Appeal model: visibility beyond
area, working-day deadlines with 调休, periodic tasks, notifications on commit, tracking
codes, attachments."""

import io
from datetime import date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from PIL import Image

from minqing.accounts.tests.factories import UserFactory
from minqing.appeals.models import Appeal, AppealAttachment
from minqing.appeals.services import appeal_assign
from minqing.appeals.tests.factories import file_appeal, unit
from minqing.core import clock
from minqing.core.attachments import attachment_check, attachments_purge
from minqing.core.deadlines import (
    add_working_days,
    deadline_after,
    is_working_day,
    working_days_between,
)
from minqing.core.errors import ValidationFailed
from minqing.core.models import CalendarDay, Notification, PeriodicRun
from minqing.core.notifications import ConsoleSender, notification_mark_read, notify, unread_count
from minqing.core.periodic import beat_schedule, periodic_tasks, register_periodic, run_due
from minqing.core.public import (
    CODE_LENGTH,
    format_code,
    new_tracking_code,
    normalise_code,
    tracking_hash,
)
from minqing.core.roles import Role
from minqing.core.scoping import get_visible_or_404

# -- object visibility beyond area ---------------------------------------------------------


def test_assigned_unit_and_owner_see_a_case_outside_their_area(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    dept_unit = unit(area=tree.county)
    far = UserFactory(username="far", role=Role.DEPARTMENT_STAFF, areas=[tree.helingcun])
    far.unit = dept_unit
    far.save()
    colleague = UserFactory(username="col", role=Role.DEPARTMENT_STAFF, areas=[tree.helingcun])
    colleague.unit = dept_unit
    colleague.save()
    stranger = users.outsider
    for u in (far, colleague, stranger):
        with pytest.raises(Http404):
            get_visible_or_404(Appeal, u, pk=appeal.pk)
    appeal_assign(actor=users.township, appeal=appeal, unit_id=dept_unit.pk, owner_id=far.pk)
    for u in (far, colleague):  # owner, and a member of the assigned unit
        u = type(u).objects.get(pk=u.pk)
        assert get_visible_or_404(Appeal, u, pk=appeal.pk) == appeal
        assert list(Appeal.objects.visible_to(u)) == [appeal]
    with pytest.raises(Http404):  # still the same 404 for everyone else
        get_visible_or_404(Appeal, stranger, pk=appeal.pk)


def test_a_user_with_neither_area_nor_unit_sees_nothing(tree, users):
    file_appeal(actor=users.cadre, area=tree.qixing)
    nobody = UserFactory(username="nobody", role=Role.GRID_WORKER, areas=[])
    assert not Appeal.objects.visible_to(nobody).exists()


# -- deadlines in working days --------------------------------------------------------------


def test_national_holidays_and_adjusted_workdays_are_data(db):
    assert CalendarDay.objects.filter(date=date(2026, 2, 16), kind="holiday").exists()
    assert not is_working_day(date(2026, 2, 16))  # 春节, a Monday
    assert is_working_day(date(2026, 2, 14))  # 调休: a Saturday worked
    assert not is_working_day(date(2026, 2, 21))  # plain Saturday within the holiday
    assert is_working_day(date(2026, 2, 24))  # Tuesday after
    assert not is_working_day(date(2026, 11, 28))  # an ordinary Saturday


def test_adding_working_days_skips_weekends_and_holidays(db):
    assert add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon
    # Thursday 12 Feb 2026 + 3 working days: Fri 13, Sat 14 (调休), then 春节 until Mon 23,
    # Tue 24 is the third.
    assert add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)
    assert working_days_between(date(2026, 2, 12), date(2026, 2, 24)) == 3
    CalendarDay.objects.create(date=date(2026, 11, 30), kind="holiday", name="测试")
    assert add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)


def test_a_deadline_asked_again_is_not_walked_again_until_the_calendar_changes(db, monkeypatch):
    from minqing.core import deadlines

    walked = []
    real = deadlines._working
    monkeypatch.setattr(
        deadlines, "_working", lambda d, overrides: walked.append(d) or real(d, overrides)
    )
    start = date(2026, 11, 27)
    assert add_working_days(start, 5) == date(2026, 12, 4) and walked
    walked.clear()
    assert add_working_days(start, 5) == date(2026, 12, 4) and walked == []
    assert add_working_days(start, 6) == date(2026, 12, 7) and walked  # another question
    CalendarDay.objects.create(date=date(2026, 12, 1), kind="holiday", name="测试")
    walked.clear()
    assert add_working_days(start, 5) == date(2026, 12, 7) and walked


def test_deadline_is_the_end_of_the_local_working_day(db):
    moment = timezone.make_aware(datetime(2026, 11, 27, 22, 0))
    due = deadline_after(moment, 1)
    local = timezone.localtime(due)
    assert (local.date(), local.hour, local.minute) == (date(2026, 11, 30), 23, 59)


# -- periodic tasks --------------------------------------------------------------------------


def test_periodic_registry_feeds_beat_and_runs_inline_on_schedule(db):
    calls = []
    register_periodic("test.tick", lambda: calls.append(1) or len(calls), every=timedelta(hours=1))
    assert "appeals.escalate_overdue" in periodic_tasks()
    schedule = beat_schedule()
    assert schedule["test.tick"] == {
        "task": "minqing.core.tasks.run_periodic",
        "schedule": 3600.0,
        "args": ("test.tick",),
    }
    t0 = timezone.make_aware(datetime(2026, 11, 30, 9, 0))
    with clock.frozen(t0):
        assert "test.tick" in run_due()
        assert "test.tick" not in run_due()  # not due again yet
    with clock.frozen(t0 + timedelta(minutes=59)):
        assert "test.tick" not in run_due()
    with clock.frozen(t0 + timedelta(hours=1)):
        assert "test.tick" in run_due()
    assert len(calls) == 2
    assert PeriodicRun.objects.get(name="test.tick").last_run_at == t0 + timedelta(hours=1)


# -- notifications ---------------------------------------------------------------------------


def test_notifications_are_delivered_only_on_commit(users, django_capture_on_commit_callbacks):
    ConsoleSender.outbox.clear()
    users.cadre.phone = "13800000001"
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients=[users.cadre], kind="t", title="有新事项", channels=("inbox", "sms"))
    assert unread_count(users.cadre) == 1
    assert [m.address for m in ConsoleSender.outbox] == ["13800000001"]
    assert unread_count(users.grid) == 0


def test_a_rolled_back_transaction_notifies_nobody(users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                notify(recipients=[users.cadre], kind="t", title="x")
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == [] and not Notification.objects.exists()


def test_marking_read_touches_only_my_own(users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients=[users.cadre, users.grid], kind="t", title="x")
    theirs = Notification.objects.get(recipient=users.grid)
    assert notification_mark_read(actor=users.cadre, ids=[theirs.pk]) == 0
    assert notification_mark_read(actor=users.cadre) == 1
    assert unread_count(users.cadre) == 0 and unread_count(users.grid) == 1


# -- tracking codes --------------------------------------------------------------------------


def test_tracking_codes_have_80_bits_and_only_their_hash_is_stored(users, tree):
    codes = {new_tracking_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == CODE_LENGTH for c in codes)
    assert CODE_LENGTH * 5 >= 80
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    code = appeal.tracking_code
    stored = Appeal.objects.get(pk=appeal.pk)
    assert stored.tracking_hash == tracking_hash(code) and code not in stored.tracking_hash
    # a code typed with dashes, lower case or O for 0 finds the same hash
    assert tracking_hash(format_code(code).lower()) == stored.tracking_hash
    assert normalise_code("o1-il") == "0111"


def test_tracking_hash_is_the_hmac_the_stored_codes_were_made_with(settings):
    """The hash stored for every code filed so far: HMAC-SHA256 of the normalised code, keyed
    with SHA-256 of "minqing-tracking:" + SECRET_KEY. Computed another way, it must not move,
    or no resident could track an older matter."""
    import hashlib
    import hmac

    settings.SECRET_KEY = "a-fixed-key-for-this-test"
    key = hashlib.sha256(b"minqing-tracking:a-fixed-key-for-this-test").digest()
    want = hmac.new(key, b"0123ABCDEFGHJKMN", hashlib.sha256).hexdigest()
    assert tracking_hash("0123-abcd-efgh-jkmn") == want
    assert want == "08c104d99160e47cac887fd4b55609c823a09c237f7b946def2e168fbc6d19b7"


# -- attachments -----------------------------------------------------------------------------


def _jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (8, 8), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (27.0, 50.0, 0.0)}  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_image_metadata_and_gps_are_stripped():
    raw = _jpeg_with_gps()
    assert b"PhoneMaker" in raw
    checked = attachment_check(SimpleUploadedFile("photo.jpg", raw))
    assert checked.content_type == "image/jpeg" and b"PhoneMaker" not in checked.data
    assert not Image.open(io.BytesIO(checked.data)).getexif()


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("virus.jpg", b"MZ\x90\x00" + b"\x00" * 100, "只能上传"),
        ("doc.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "扩展名不符"),
        ("empty.png", b"", "空文件"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"garbage", "损坏"),
    ],
)
def test_disguised_or_broken_files_are_refused(name, data, message):
    with pytest.raises(ValidationFailed) as exc:
        attachment_check(SimpleUploadedFile(name, data))
    assert message in str(exc.value.message)


def test_size_and_count_limits(settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(ValidationFailed):
        attachment_check(SimpleUploadedFile("a.pdf", b"%PDF-" + b"x" * 200))
    settings.ATTACHMENT_MAX_BYTES = 10_000
    assert attachment_check(SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")).content_type == (
        "application/pdf"
    )
    settings.ATTACHMENT_MAX_COUNT = 2
    with pytest.raises(ValidationFailed):
        attachment_check(SimpleUploadedFile("a.pdf", b"%PDF-1.4"), existing_count=2)


def test_retention_purges_files_past_their_date(users, tree, settings, tmp_path):
    from minqing.appeals.services import appeal_attach

    settings.MEDIA_ROOT = tmp_path
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    row = appeal_attach(
        actor=users.cadre, appeal=appeal, upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")
    )
    path = row.file.path
    AppealAttachment.objects.filter(pk=row.pk).update(retain_until=date(2026, 1, 1))
    assert attachments_purge(AppealAttachment, today=date(2025, 12, 31)) == 0
    assert attachments_purge(AppealAttachment, today=date(2026, 1, 2)) == 1
    assert not AppealAttachment.objects.exists()
    import os

    assert not os.path.exists(path)
