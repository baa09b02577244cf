import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .errors import DomainError
from .scoping import ScopedQuerySet


class AppendOnlyError(DomainError):
    status = 405
    code = "append_only"
    message = _("审计记录只能追加，不能修改或删除")


class AuditEventQuerySet(ScopedQuerySet):
    def visible_to(self, user):
        """Events in the user's areas; events tied to no area only for administrators."""
        if user is not None and getattr(user, "is_superuser", False) and user.is_active:
            return self.all()
        scoped = super().visible_to(user)
        if getattr(user, "role", None) == "admin":
            return scoped | self.filter(area__isnull=True)
        return scoped

    def update(self, **kwargs):
        raise AppendOnlyError()

    def delete(self):
        raise AppendOnlyError()

    update.queryset_only = True
    delete.queryset_only = True


class AuditEvent(models.Model):
    """Append-only log of every change and every read of sensitive data.

    The app refuses update/delete (model, queryset, admin); on PostgreSQL a trigger
    refuses them in the database too (migration 0002).
    """

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        # audit_actor_idx (actor, -at) serves every lookup by actor, the PROTECT check on
        # deleting a user included: no second index written with every audit row
        db_index=False,
    )
    actor_label = models.CharField(_("操作人名称"), max_length=150, blank=True)
    action = models.CharField(_("动作"), max_length=64)
    target_type = models.CharField(_("对象类型"), max_length=64, blank=True)
    target_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    target_repr = models.CharField(_("对象"), max_length=200, blank=True)
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("区域"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source_address = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    channel = models.CharField(_("渠道"), max_length=16, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at", "-id"]
        indexes = [
            # audit browser: one object's history
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_idx"),
            # audit browser: one actor's actions, newest first
            models.Index(fields=["actor", "-at"], name="audit_actor_idx"),
            # audit browser: filter by action
            models.Index(fields=["action", "-at"], name="audit_action_idx"),
        ]

    def __str__(self):
        at = timezone.localtime(self.at)
        return f"{at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError()


class JobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A background job is seen by the person who started it."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(created_by=user)


class Job(models.Model):
    """A background task (import, export, report) with progress for the page that polls it.

    Generic: `kind` names the work, `done`/`total` the progress, `result` its JSON summary
    and `result_file` a file it produced (an export, an error report). An import stops at
    PREVIEW (its dry run) until the user commits or cancels it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("排队中")
        RUNNING = "running", _("进行中")
        PREVIEW = "preview", _("待确认")
        DONE = "done", _("已完成")
        FAILED = "failed", _("未通过")
        CANCELLED = "cancelled", _("已取消")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("类型"), max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    input_file = models.CharField(max_length=300, blank=True)
    result_file = models.CharField(max_length=300, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # stamped by the worker while it runs (core.jobs.heartbeat): a stale stamp means it died
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # the user's recent jobs (import pages, the remembered column mapping)
            models.Index(fields=["created_by", "-created_at"], name="job_owner_idx"),
            # retention: finished jobs whose files are due for deletion
            models.Index(fields=["finished_at"], name="job_finished_idx"),
        ]

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def polling(self) -> bool:
        """The page keeps asking while the worker still has something to do."""
        return self.status in (self.Status.PENDING, self.Status.RUNNING)


# The case kernel's tables live in their own module.
from .case_models import CalendarDay, Notification, PeriodicRun  # noqa: E402, F401
