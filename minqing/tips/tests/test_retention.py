"""At expiry content, identity and attachments are destroyed; only the statistics remain."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile

from minqing.core.models import AuditEvent
from minqing.tips import services
from minqing.tips.attachments import blob_dir
from minqing.tips.models import (
    IdentityRequest,
    Tip,
    TipAttachment,
    TipEvent,
    TipIdentity,
    TipMessage,
    TipNote,
    TipReminder,
    TipStat,
)


def test_expiry_per_outcome_reminder_then_destruction(file_tip, officers, settings):
    settings.TIPS_RETENTION_DAYS = {**settings.TIPS_RETENTION_DAYS, "unfounded": 30}
    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.4\nx", content_type="application/pdf")
    tip = file_tip(identity={"name": "甲"}, files=[pdf]).tip
    officer = officers.county
    services.tip_transition(actor=officer, tip=tip, action="verify")
    services.tip_note_add(actor=officer, tip=tip, body="记录")
    services.tip_reply(actor=officer, tip=tip, body="答复")
    services.identity_request(actor=officer, tip=tip, reason="理由")
    tip = services.tip_transition(actor=officer, tip=tip, action="unfound")
    today = services._today()
    assert tip.expires_on == today + timedelta(days=30)
    assert len(list(blob_dir().iterdir())) == 1

    # reminder before expiry, nothing destroyed yet
    services.tips_remind(today=tip.expires_on - timedelta(days=settings.TIPS_EXPIRY_REMINDER_DAYS))
    assert TipReminder.objects.filter(kind="expiry").count() == 1
    assert services.tips_expire(today=tip.expires_on - timedelta(days=1)) == 0
    assert Tip.objects.count() == 1

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.tips_expire(today=tip.expires_on) == 1
    for model in (
        Tip,
        TipIdentity,
        TipAttachment,
        TipEvent,
        TipNote,
        TipMessage,
        IdentityRequest,
        TipReminder,
    ):
        assert not model.objects.exists(), model
    assert list(blob_dir().iterdir()) == []
    stat = TipStat.objects.get(count__gt=0)
    assert stat.outcome == "unfounded" and stat.count == 1 and stat.area == tip.area
    assert AuditEvent.objects.filter(action="tips.destroy").count() == 1


def test_open_tips_do_not_expire(file_tip):
    file_tip()
    assert services.tips_expire(today=services._today() + timedelta(days=10000)) == 0
    assert Tip.objects.count() == 1


def test_periodic_tasks_are_registered_and_run(file_tip, officers):
    from minqing.core.periodic import periodic_tasks, run_one

    assert {"tips.remind", "tips.expire"} <= set(periodic_tasks())
    tip = file_tip().tip
    services.tip_transition(actor=officers.county, tip=tip, action="reject")
    Tip.objects.filter(pk=tip.pk).update(expires_on=services._today())
    assert run_one("tips.expire") == "1"
    assert not Tip.objects.exists()
