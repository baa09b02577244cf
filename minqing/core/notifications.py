"""Notifications, queued on commit: an in-app inbox, plus pluggable e-mail/SMS senders.

Services call `notify(...)` inside their transaction; nothing is written or sent unless the
transaction commits (a rolled-back claim notifies nobody). The inbox row is written in a
new short transaction on commit; the senders named in `channels` (besides "inbox") are
looked up in settings.NOTIFICATION_SENDERS, e.g.

    NOTIFICATION_SENDERS = {"sms": "myproject.sms.AliyunSender", "email": "..."}

and default to the console sender, which logs the message (and keeps it in `outbox` for
tests) instead of sending it.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from . import clock
from .case_models import Notification

log = logging.getLogger("minqing.notifications")


@dataclass(frozen=True)
class Message:
    channel: str
    recipient_id: int
    address: str
    title: str
    body: str
    url: str


class ConsoleSender:
    """Default sender: logs the message instead of sending it; tests read `outbox`."""

    outbox: list[Message] = []

    def send(self, message: Message) -> None:
        self.outbox.append(message)
        log.info("[%s] to %s: %s", message.channel, message.address, message.title)


def _sender(channel: str):
    path = getattr(settings, "NOTIFICATION_SENDERS", {}).get(channel)
    return import_string(path)() if path else ConsoleSender()


def _address(user, channel: str) -> str:
    return {"email": getattr(user, "email", ""), "sms": getattr(user, "phone", "")}.get(channel, "")


def notify(
    *, recipients, kind: str, title: str, body: str = "", url: str = "", channels=("inbox",)
) -> None:
    """Queue a notification to these users, delivered only if the transaction commits."""
    users = [u for u in {getattr(u, "pk", None): u for u in recipients if u}.values() if u]
    if not users:
        return

    def deliver():
        at = clock.now()
        if "inbox" in channels:
            Notification.objects.bulk_create(
                Notification(
                    recipient=u,
                    created_at=at,
                    kind=kind,
                    title=str(title)[:200],
                    body=str(body),
                    url=url,
                )
                for u in users
            )
        for channel in channels:
            if channel == "inbox":
                continue
            sender = _sender(channel)
            for u in users:
                address = _address(u, channel)
                if not address:
                    continue
                try:
                    sender.send(Message(channel, u.pk, address, str(title), str(body), url))
                except Exception:  # a failing SMS gateway must not break the request
                    log.exception("sending %s to user %s failed", channel, u.pk)

    transaction.on_commit(deliver)


def unread_count(user) -> int:
    return Notification.objects.visible_to(user).unread().count()


def notification_mark_read(*, actor, ids=None) -> int:
    """Mark some (or all) of the actor's own notifications read; others' are untouched."""
    qs = Notification.objects.visible_to(actor).unread()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())
