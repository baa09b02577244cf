"""Tables of the case kernel (calendar, notifications, periodic runs); imported by models.py."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """An exception to the Monday-Friday week: a public holiday on a weekday, or a
    调休 working day on a weekend. The calendar is data, edited in the admin each year."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("法定节假日(休)")
        WORKDAY = "workday", _("调休上班日")

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("节假日安排")
        verbose_name_plural = _("节假日安排")
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}"


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, user):
        """An inbox is its owner's alone."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(recipient=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message in a user's in-app inbox (also sent by e-mail/SMS senders when asked)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # notif_inbox_idx (recipient, -created_at) leads with it
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(_("类型"), max_length=32)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=300, blank=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            # inbox list, newest first
            models.Index(fields=["recipient", "-created_at"], name="notif_inbox_idx"),
            # unread count in the header
            models.Index(
                fields=["recipient"],
                condition=models.Q(read_at__isnull=True),
                name="notif_unread_idx",
            ),
        ]

    def __str__(self):
        return self.title


class PeriodicRun(models.Model):
    """When each registered periodic task last ran (the inline scheduler's memory)."""

    name = models.CharField(max_length=100, unique=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True)

    def __str__(self):
        return self.name
