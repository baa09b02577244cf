"""Notifications, queued on commit: an in-app inbox, plus pluggable e-mail/SMS senders.

Services call `notify(...)` inside their transaction; nothing is kept or sent unless the
transaction commits (a rolled-back claim notifies nobody). The inbox rows are written in
that transaction (no second commit per request); the senders named in `channels` (besides "inbox") are
looked up in settings.NOTIFICATION_SENDERS, e.g.

    NOTIFICATION_SENDERS = {"sms": "myproject.sms.AliyunSender", "email": "..."}

and default to the console sender, which logs the message (and keeps it in `outbox` for
tests) instead of sending it.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
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
    """Notify these users (a list, or a queryset of users) if the transaction commits.

    The inbox rows are written in the caller's transaction (rolled back with it, so nothing
    shows unless it commits; a queryset of recipients becomes one INSERT ... SELECT, no
    round trip to fetch the users); e-mail/SMS are sent on commit."""
    at = clock.now()
    fields = {"kind": kind, "title": str(title)[:200], "body": str(body), "url": url}
    others = [c for c in channels if c != "inbox"]
    if isinstance(recipients, models.QuerySet) and not others:
        if "inbox" in channels:
            _insert_select(recipients, at=at, **fields)
        return
    users = [u for u in {getattr(u, "pk", None): u for u in recipients if u}.values() if u]
    if not users:
        return
    if "inbox" in channels:
        Notification.objects.bulk_create(
            Notification(recipient=u, created_at=at, **fields) for u in users
        )
    if not others:
        return

    def deliver():
        for channel in others:
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


def _insert_select(users: models.QuerySet, *, at, kind, title, body, url) -> int:
    """One INSERT INTO inbox SELECT FROM (the recipients' query)."""
    sub = users.order_by().values_list("pk", flat=True)
    sql, params = sub.query.get_compiler(using=sub.db).as_sql()
    qn = connection.ops.quote_name
    table = qn(Notification._meta.db_table)
    user_table = qn(users.model._meta.db_table)
    user_pk = qn(users.model._meta.pk.column)
    dt = Notification._meta.get_field("created_at").get_db_prep_save(at, connection)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (recipient_id, created_at, kind, title, body, url) "
            f"SELECT u.{user_pk}, %s, %s, %s, %s, %s FROM {user_table} u "
            f"WHERE u.{user_pk} IN ({sql})",
            [dt, kind, title, body, url, *params],
        )
        return cur.rowcount


def unread_count(user) -> int:
    return Notification.objects.visible_to(user).unread().count()


def notification_mark_read(*, actor, ids=None) -> int:
    """Mark some (or all) of the actor's own notifications read; others' are untouched."""
    qs = Notification.objects.visible_to(actor).unread()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())
