"""Screening meetings (villages weekly, townships half-monthly), the missing-meeting flag,
reception duty."""

from datetime import date, datetime

import pytest
from django.utils import timezone

from minqing.appeals.services import meeting_record, meetings_missing, reception_record
from minqing.appeals.tests.factories import file_appeal
from minqing.core import clock
from minqing.core.errors import ValidationFailed


def test_a_village_without_this_weeks_meeting_is_flagged(users, tree):
    with clock.frozen(timezone.make_aware(datetime(2026, 11, 26, 10))):  # Thursday
        missing = {a.name for a in meetings_missing(fetched_by=users.township)}
        assert missing == {"昭山镇", "七星村", "昭山村"}
        a = file_appeal(actor=users.cadre, area=tree.qixing)
        meeting_record(
            actor=users.cadre,
            area_id=tree.qixing.pk,
            held_on=date(2026, 11, 23),
            attendees="村两委",
            decisions="路灯由村委会修",
            appeal_ids=[a.pk],
        )
        # last week's meeting of 昭山村 does not count
        meeting_record(
            actor=users.township,
            area_id=tree.zhaoshancun.pk,
            held_on=date(2026, 11, 20),
            attendees="x",
        )
        # the township's half-month began on the 16th
        meeting_record(
            actor=users.township,
            area_id=tree.zhaoshan.pk,
            held_on=date(2026, 11, 16),
            attendees="x",
        )
        missing = {a.name for a in meetings_missing(fetched_by=users.township)}
        assert missing == {"昭山村"}


def test_meeting_checks(users, tree):
    theirs = file_appeal(actor=users.outsider, area=tree.helingcun)
    with pytest.raises(ValidationFailed):  # a matter outside my jurisdiction
        meeting_record(
            actor=users.cadre,
            area_id=tree.qixing.pk,
            held_on=date(2026, 1, 1),
            attendees="x",
            appeal_ids=[theirs.pk],
        )
    with pytest.raises(ValidationFailed):  # an area outside my jurisdiction
        meeting_record(
            actor=users.cadre, area_id=tree.helingcun.pk, held_on=date(2026, 1, 1), attendees="x"
        )
    with pytest.raises(ValidationFailed):  # in the future
        meeting_record(
            actor=users.cadre, area_id=tree.qixing.pk, held_on=date(2099, 1, 1), attendees="x"
        )


def test_reception_duty(users, tree, client):
    from minqing.conftest import login

    r = reception_record(
        actor=users.leader,
        area_id=tree.zhaoshan.pk,
        received_on=date(2026, 11, 20),
        visitor="彭某",
        summary="征地补偿",
    )
    assert r.receiver == users.leader
    login(client, users.township)
    assert client.get("/api/appeals/receptions").json()["count"] == 1
    login(client, users.outsider)
    assert client.get("/api/appeals/receptions").json()["count"] == 0


def test_meetings_page_records_and_flags(client, users, tree):
    from minqing.appeals.models import Meeting
    from minqing.conftest import login

    login(client, users.cadre)
    page = client.get("/appeals/meetings/").content.decode()
    assert "本期尚未召开" in page and "七星村" in page
    r = client.post(
        "/appeals/meetings/",
        {"area_id": tree.helingcun.pk, "held_on": "2026-01-05", "attendees": "x"},
    )
    assert r.status_code == 400 and not Meeting.objects.exists()
    r = client.post(
        "/appeals/meetings/",
        {
            "area_id": tree.qixing.pk,
            "held_on": timezone.localdate().isoformat(),
            "attendees": "村两委",
        },
    )
    assert r.status_code == 302 and Meeting.objects.count() == 1
    assert "本期尚未召开" not in client.get("/appeals/meetings/").content.decode()


def test_reception_page(client, users, tree):
    from minqing.appeals.models import Reception
    from minqing.conftest import login

    login(client, users.township)
    r = client.post(
        "/appeals/receptions/",
        {"area_id": tree.heling.pk, "received_on": "2026-11-20", "visitor": "彭某", "summary": "x"},
    )
    assert r.status_code == 400 and not Reception.objects.exists()
    r = client.post(
        "/appeals/receptions/",
        {
            "area_id": tree.zhaoshan.pk,
            "received_on": "2026-11-20",
            "visitor": "彭某",
            "summary": "征地补偿",
        },
    )
    assert r.status_code == 302
    assert "征地补偿" in client.get("/appeals/receptions/").content.decode()
    login(client, users.outsider)
    assert "征地补偿" not in client.get("/appeals/receptions/").content.decode()
