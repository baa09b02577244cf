"""Anonymous crime tips (扫黑除恶线索).

What a tipster wrote (content, identity, attachments, messages, notes) is encrypted at rest
(core/crypto.py). Who may read a tip is decided in one place, `TipQuerySet.visible_to`:
political-legal officers whose jurisdiction covers the tip's handling area, minus the officers
named in it or excluded for it. `TipStat` is the statistics row that outlives the tip.
"""

from datetime import datetime, time

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.core.crypto import EncryptedTextField
from minqing.core.roles import Role
from minqing.core.scoping import ScopedQuerySet, jurisdiction_paths, path_q
from minqing.core.workflow import CaseModel, WorkflowEvent


class TipCategory(models.Model):
    """涉黑, 涉恶, 村霸 ...; administrators manage the list."""

    name = models.CharField(_("名称"), max_length=40, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=100)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("线索类别")
        verbose_name_plural = _("线索类别")
        ordering = ["order", "id"]

    def __str__(self):
        return self.name


class TipState(models.TextChoices):
    RECEIVED = "received", _("已受理")
    VERIFYING = "verifying", _("核查中")
    SUBSTANTIATED = "substantiated", _("查实")
    FILED = "filed", _("立案")
    TRANSFERRED = "transferred", _("移交公安")
    UNFOUNDED = "unfounded", _("查否")
    REJECTED = "rejected", _("不予受理")


FINAL_STATES = frozenset({"filed", "transferred", "unfounded", "rejected"})


class TipChannel(models.TextChoices):
    WEB = "web", _("网上举报")
    PHONE = "phone", _("举报电话")
    LETTER = "letter", _("来信")
    BOX = "box", _("举报箱")
    EMAIL = "email", _("举报邮箱")


def is_tip_officer(user) -> bool:
    """Political-legal role, active: the only people who may read tips (no superuser bypass)."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "role", None) == Role.POLITICAL_LEGAL
    )


class TipQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Tips whose handling area the officer's jurisdiction covers, minus conflicts.

        Administrators, supervisors and superusers get nothing here: they see counts only
        (TipStat). Same answer for "missing", "not yours" and "excluded"."""
        if not is_tip_officer(user):
            return self.none()
        paths = jurisdiction_paths(user)
        if not paths:
            return self.none()
        return self.filter(path_q(paths, "handling_area__path")).exclude(
            pk__in=TipConflict.objects.filter(officer=user).values("tip_id")
        )


class Tip(CaseModel):
    """created_at is midnight of the day it came in: an exact time could be matched against
    a web server's access log."""

    area = models.ForeignKey(
        "areas.Area", verbose_name=_("发生地"), on_delete=models.PROTECT, related_name="+"
    )
    # Where the tip is handled: the area itself, or the township above a village whose
    # cadre is named in it (a village cadre must not read a tip about themselves).
    handling_area = models.ForeignKey(
        "areas.Area", verbose_name=_("办理区域"), on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(TipCategory, verbose_name=_("类别"), on_delete=models.PROTECT)
    channel = models.CharField(_("来源"), max_length=16, choices=TipChannel.choices)
    state = models.CharField(
        _("状态"), max_length=32, choices=TipState.choices, default=TipState.RECEIVED
    )
    month = models.DateField(_("月份"))
    content = EncryptedTextField(_("举报内容"))
    when_where = EncryptedTextField(_("时间地点"), blank=True)
    people_named = EncryptedTextField(_("被举报人"), blank=True)
    receipt_hash = models.CharField(max_length=128, unique=True, null=True, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("承办人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deadline = models.DateField(_("核查期限"), null=True, blank=True)
    expires_on = models.DateField(_("销毁日期"), null=True, blank=True)

    objects = TipQuerySet.as_manager()

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        ordering = ["-created_at", "-id"]
        indexes = [
            # retention: tips past their expiry (and the reminder before it)
            models.Index(fields=["expires_on"], name="tip_expiry_idx"),
            # deadline reminders: open tips by deadline
            models.Index(fields=["state", "deadline"], name="tip_deadline_idx"),
        ]

    def __str__(self):
        return f"线索 {self.reference}"

    @property
    def reference(self) -> str:
        return f"XS{self.pk:06d}"

    @property
    def received_on(self):
        return timezone.localdate(self.created_at)

    @property
    def audit_area_id(self):
        return self.handling_area_id

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def timeline_extra(self, fetched_by):
        """Notes (officers only) and messages (replies are what the tipster sees)."""
        from django.utils.translation import gettext as _t

        from minqing.core.timeline import TimelineEntry

        entries = [
            TimelineEntry(
                at=timezone.make_aware(datetime.combine(m.on, time.min)),
                kind="reply",
                title=_t("举报人补充") if m.from_tipster else _t("答复举报人"),
                text=m.body,
                actor="" if fetched_by is None or m.from_tipster else str(m.author),
                public=not m.from_tipster,
            )
            for m in self.messages.select_related("author")
        ]
        if fetched_by is not None:
            entries += [
                TimelineEntry(
                    at=n.at,
                    kind="note",
                    title=_t("核查记录"),
                    text=n.body,
                    actor=str(n.author),
                    public=False,
                )
                for n in self.notes.select_related("author")
            ]
        return entries


class TipEvent(WorkflowEvent):
    tip = models.ForeignKey(Tip, related_name="events", on_delete=models.CASCADE)
    # dated notes (comment) are encrypted like the tip itself
    comment = EncryptedTextField(_("说明"), blank=True)


class TipIdentity(models.Model):
    """A tipster's identity, when they chose to leave it: apart, encrypted, custodian-gated."""

    tip = models.OneToOneField(Tip, related_name="identity", on_delete=models.CASCADE)
    name = EncryptedTextField(_("姓名"), blank=True)
    contact = EncryptedTextField(_("联系方式"), blank=True)
    other = EncryptedTextField(_("其他身份信息"), blank=True)

    class Meta:
        verbose_name = _("举报人身份")
        verbose_name_plural = _("举报人身份")


class TipConflict(models.Model):
    """An officer who must not read this tip (named in it, or marked for a conflict)."""

    tip = models.ForeignKey(Tip, related_name="conflicts", on_delete=models.CASCADE)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tip_conflicts"
    )
    # null: found by the system in the names the tipster gave
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = EncryptedTextField(_("回避理由"), blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tip", "officer"], name="tip_conflict_unique")
        ]


class TipCustodian(models.Model):
    """A named senior officer who approves requests to see a tipster's identity."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tip_custody"
    )
    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("身份信息保管人")
        verbose_name_plural = _("身份信息保管人")
        constraints = [
            models.UniqueConstraint(fields=["user", "area"], name="tip_custodian_unique")
        ]

    def __str__(self):
        return f"{self.user} · {self.area}"


class IdentityRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        DENIED = "denied", _("未批准")

    tip = models.ForeignKey(Tip, related_name="identity_requests", on_delete=models.CASCADE)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = EncryptedTextField(_("申请理由"))
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    custodian = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = EncryptedTextField(_("审批意见"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            # one open request per officer and tip
            models.UniqueConstraint(
                fields=["tip", "officer"],
                condition=models.Q(status="pending"),
                name="tip_identity_request_one_pending",
            )
        ]


class TipMessage(models.Model):
    """A reply to the tipster or information the tipster added with their receipt."""

    tip = models.ForeignKey(Tip, related_name="messages", on_delete=models.CASCADE)
    from_tipster = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    on = models.DateField(_("日期"))
    body = EncryptedTextField(_("内容"))

    class Meta:
        ordering = ["on", "id"]


class TipNote(models.Model):
    """A dated working note of the verification (核查记录)."""

    tip = models.ForeignKey(Tip, related_name="notes", on_delete=models.CASCADE)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    body = EncryptedTextField(_("内容"))

    class Meta:
        ordering = ["at", "id"]


class TipAttachment(models.Model):
    """A file of a tip, stored encrypted under a random name; its name is encrypted too."""

    tip = models.ForeignKey(Tip, related_name="attachments", on_delete=models.CASCADE)
    blob = models.CharField(max_length=64, unique=True)
    original_name = EncryptedTextField(_("文件名"))
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    from_tipster = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    @classmethod
    def rotate_encrypted_files(cls) -> int:
        from .attachments import rotate_blobs

        return rotate_blobs()


class TipReminder(models.Model):
    """A reminder shown to the officers of the tip (deadline near, expiry near)."""

    class Kind(models.TextChoices):
        DEADLINE = "deadline", _("核查期限将到")
        OVERDUE = "overdue", _("已超过核查期限")
        EXPIRY = "expiry", _("即将到期销毁")

    tip = models.ForeignKey(Tip, related_name="reminders", on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on"]
        constraints = [
            models.UniqueConstraint(fields=["tip", "kind", "due_on"], name="tip_reminder_once")
        ]


class TipStatQuerySet(ScopedQuerySet):
    area_path_field = "area__path"


class TipStat(models.Model):
    """Counts by area, month, category and current outcome, kept in the same transaction as
    each change; the only thing left of a tip after its expiry."""

    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    category = models.ForeignKey(TipCategory, on_delete=models.PROTECT)
    outcome = models.CharField(max_length=32, choices=TipState.choices)
    count = models.IntegerField(default=0)

    objects = TipStatQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["area", "month", "category", "outcome"], name="tip_stat_bucket"
            )
        ]
