"""Periodic appeal work; the tasks only call services (registered in core.periodic)."""

from datetime import timedelta

from minqing.core.periodic import register_periodic


def _escalate():
    from .services import appeal_escalate_overdue

    return appeal_escalate_overdue()


def _remind():
    from .services import appeal_remind_due

    return appeal_remind_due()


def _purge():
    from minqing.core.attachments import attachments_purge

    from .models import AppealAttachment

    return attachments_purge(AppealAttachment)


register_periodic("appeals.escalate_overdue", _escalate, every=timedelta(minutes=15))
register_periodic("appeals.remind_due", _remind, every=timedelta(hours=1))
register_periodic("appeals.purge_attachments", _purge, every=timedelta(days=1))
