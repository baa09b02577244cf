"""Appeals (诉求/微实事): a matter a resident raised, with an owner, a deadline and an
answer. The state is cached; AppealEvent rows are the truth (core.workflow)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.core.attachments import AttachmentBase
from minqing.core.masking import mask_phone
from minqing.core.scoping import ScopedQuerySet
from minqing.core.workflow import CaseModel, WorkflowEvent


class State(models.TextChoices):
    ACCEPTED = "accepted", _("已受理")
    CLAIMED = "claimed", _("已认领")
    ASSIGNED = "assigned", _("已交办")
    IN_PROGRESS = "in_progress", _("办理中")
    RESOLVED = "resolved", _("已办结")
    REVISITED = "revisited", _("已回访")
    ARCHIVED = "archived", _("已归档")


OPEN_STATES = (State.ACCEPTED, State.CLAIMED, State.ASSIGNED, State.IN_PROGRESS)


class Channel(models.TextChoices):
    VISIT = "visit", _("走访")
    WALK_IN = "walk_in", _("来访接待")
    HOTLINE = "hotline", _("热线电话")
    LETTER = "letter", _("来信")
    WEB = "web", _("网上诉求")
    OFFICER = "officer", _("干部录入")
    OPEN311 = "open311", _("Open311 接口")


class Kind(models.TextChoices):
    APPEAL = "appeal", _("诉求")
    DISPUTE = "dispute", _("矛盾纠纷")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class MediationOutcome(models.TextChoices):
    SUCCESS = "success", _("调解成功")
    FAILED = "failed", _("调解未成功")
    TRANSFERRED = "transferred", _("转办")


class Category(models.Model):
    """Administrators keep the list: each category has a default handling unit, deadlines
    per level in working days, and optional extra questions asked at intake."""

    code = models.SlugField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=50, unique=True)
    description = models.TextField(_("说明(用于智能派单)"), blank=True)
    default_unit = models.ForeignKey(
        "accounts.Unit",
        verbose_name=_("默认承办单位"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    days_village = models.PositiveSmallIntegerField(_("村级办理时限(工作日)"), default=5)
    days_township = models.PositiveSmallIntegerField(_("乡镇办理时限(工作日)"), default=10)
    days_county = models.PositiveSmallIntegerField(_("区县办理时限(工作日)"), default=15)
    # [{"key": "since", "label": "问题持续多久了?", "required": false}, ...]
    questions = models.JSONField(_("补充问题"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=100)

    class Meta:
        verbose_name = _("诉求类别")
        verbose_name_plural = _("诉求类别")
        ordering = ["order", "code"]

    def __str__(self):
        return self.name

    def days_at(self, level: int) -> int:
        from minqing.areas.models import Level

        if level <= Level.COUNTY:
            return self.days_county
        if level == Level.TOWNSHIP:
            return self.days_township
        return self.days_village


class AppealQuerySet(ScopedQuerySet):
    area_path_field = "area__path"
    # A county department or a cadre of another township given the matter sees it too.
    owner_field = "owner"
    unit_field = "unit"

    def open(self):
        return self.filter(state__in=OPEN_STATES)


class Appeal(CaseModel):
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.APPEAL)
    channel = models.CharField(_("来源渠道"), max_length=16, choices=Channel.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="appeals"
    )
    # area, handling_area, unit and owner are indexed by the composite indexes in Meta that
    # start with them (db_index=False: no second single-column index to write on intake).
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("所在区域"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # The level now answerable: the village first, then its township, then the county.
    handling_area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("当前办理层级"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    household = models.ForeignKey(
        "registry.Household",
        verbose_name=_("户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appeals",
        db_index=False,  # partial index in Meta (NULL on public intake)
    )
    title = models.CharField(_("标题"), max_length=100)
    content = models.TextField(_("诉求内容"))
    location = models.CharField(_("地点"), max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    answers = models.JSONField(_("补充问题回答"), default=dict, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # partial index in Meta (NULL on public intake)
    )
    unit = models.ForeignKey(
        "accounts.Unit",
        verbose_name=_("承办单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appeals",
        db_index=False,
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # partial index in Meta (NULL at intake)
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("责任人(包案人)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_appeals",
        db_index=False,
    )
    due_at = models.DateTimeField(_("办理期限"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalations = models.PositiveSmallIntegerField(_("上报次数"), default=0)
    supervisions = models.PositiveSmallIntegerField(_("督办次数"), default=0)
    result = models.TextField(_("办理结果"), blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    solved_level = models.PositiveSmallIntegerField(_("办结层级"), null=True, blank=True)
    rating = models.CharField(_("评价"), max_length=16, choices=Rating.choices, blank=True)
    # Unique through Meta.constraints, not unique=True: that would add a second index
    # (varchar_pattern_ops, for LIKE) that no query uses, written on every intake.
    tracking_hash = models.CharField(max_length=64, null=True, blank=True)
    # Disputes (矛盾纠纷): parties, mediator, record and outcome.
    parties = models.TextField(_("当事人"), blank=True)
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("调解员"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # partial index in Meta (NULL at intake)
    )
    mediation_record = models.TextField(_("调解记录"), blank=True)
    mediation_outcome = models.CharField(
        _("调解结果"), max_length=16, choices=MediationOutcome.choices, blank=True
    )

    objects = AppealQuerySet.as_manager()

    class Meta:
        verbose_name = _("诉求")
        verbose_name_plural = _("诉求")
        ordering = ["-created_at", "-id"]
        indexes = [
            # escalation/reminder tasks: open matters by deadline
            models.Index(
                fields=["due_at"],
                condition=models.Q(state__in=["accepted", "claimed", "assigned", "in_progress"]),
                name="appeal_open_due_idx",
            ),
            # my duties: matters I own, by deadline
            models.Index(fields=["owner", "state", "due_at"], name="appeal_owner_idx"),
            # my duties / unit list: matters given to my unit
            models.Index(fields=["unit", "state", "due_at"], name="appeal_unit_idx"),
            # my duties: unclaimed matters waiting at my level
            models.Index(fields=["handling_area", "state", "due_at"], name="appeal_level_idx"),
            # area list, newest first (visible_to prefix on area path joins here)
            models.Index(fields=["area", "-created_at"], name="appeal_area_idx"),
            # area list of a township or a county, newest first: walked in order, the
            # area's matters are met early (1M appeals: 264 ms sorting a township's → 10 ms)
            models.Index(fields=["-created_at", "-id"], name="appeal_created_idx"),
            # duplicate suggestions: open matters of one village's areas and one category
            models.Index(
                fields=["area", "category", "-created_at"],
                condition=models.Q(state__in=["accepted", "claimed", "assigned", "in_progress"]),
                name="appeal_open_area_cat_idx",
            ),
            # Foreign keys that are NULL when a matter is filed (a resident's, most of all):
            # indexed where set, for the household page and for deleting a referenced row;
            # intake does not write them (a NULL key in a full index is one more insert).
            *(
                models.Index(
                    fields=[f],
                    condition=models.Q(**{f"{f}__isnull": False}),
                    name=f"appeal_{f}_idx",
                )
                for f in ("household", "created_by", "assigned_by", "mediator")
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tracking_hash"], name="appeal_tracking_hash_uniq"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @property
    def state_label(self) -> str:
        return str(State(self.state).label)

    @property
    def contact_phone_masked(self) -> str:
        return mask_phone(self.contact_phone)

    @property
    def is_overdue(self) -> bool:
        from minqing.core import clock

        return bool(self.due_at and self.state in OPEN_STATES and self.due_at < clock.now())

    @property
    def audit_area_id(self):
        return self.area_id

    def timeline_extra(self, fetched_by):
        from minqing.core.timeline import TimelineEntry

        replies = self.replies.all() if fetched_by is not None else self.replies.public()
        return [
            TimelineEntry(
                at=r.at,
                kind="reply" if r.is_public else "note",
                title=str(_("答复群众") if r.is_public else _("内部备注")),
                text=r.text,
                actor=r.author_label if fetched_by is not None else "",
                public=r.is_public,
            )
            for r in replies
        ]


class DuplicateVerdict(models.Model):
    """A dispatcher's verdict on a proposed duplicate: the two matters are the same matter
    (`same`) or not. One row per pair (`first` the lower id); the latest verdict stands.
    Later suggestions learn from the confirmed and rejected pairs the user may see
    (routing.Evidence), and a rejected pair is not proposed again."""

    first = models.ForeignKey(
        Appeal, on_delete=models.CASCADE, related_name="+", verbose_name=_("诉求")
    )
    second = models.ForeignKey(
        Appeal, on_delete=models.CASCADE, related_name="+", verbose_name=_("另一诉求")
    )
    same = models.BooleanField(_("是同一件事"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("判断人"),
    )
    decided_at = models.DateTimeField(_("判断时间"), default=timezone.now)

    class Meta:
        verbose_name = _("重复判断")
        verbose_name_plural = _("重复判断")
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="duplicate_verdict_pair_uniq"),
            models.CheckConstraint(
                condition=models.Q(first__lt=models.F("second")), name="duplicate_verdict_order"
            ),
        ]


class AppealEvent(WorkflowEvent):
    # Every intake writes one event: only the indexes a query uses. appeal_event_idx starts
    # with the appeal (no second index on it); no query orders all events by time (the
    # kernel's `at` index); the actor index is for protecting users from deletion, and an
    # anonymous resident's event (actor NULL) is never looked up by it.
    appeal = models.ForeignKey(
        Appeal, related_name="events", on_delete=models.PROTECT, db_index=False
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta(WorkflowEvent.Meta):
        indexes = [
            # one appeal's timeline; check_workflows replay
            models.Index(fields=["appeal", "at", "id"], name="appeal_event_idx"),
            models.Index(
                fields=["actor"],
                condition=models.Q(actor__isnull=False),
                name="appeal_event_actor_idx",
            ),
        ]


class ReplyQuerySet(models.QuerySet):
    def public(self):
        return self.filter(is_public=True)


class AppealReply(models.Model):
    """A reply to the resident (public) or an internal note (never on the public page)."""

    appeal = models.ForeignKey(Appeal, related_name="replies", on_delete=models.CASCADE)
    at = models.DateTimeField(_("时间"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    author_label = models.CharField(max_length=150, blank=True)
    text = models.TextField(_("内容"))
    is_public = models.BooleanField(_("对群众公开"), default=False)

    objects = ReplyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]


class AppealAttachment(AttachmentBase):
    appeal = models.ForeignKey(Appeal, related_name="attachments", on_delete=models.CASCADE)

    @property
    def audit_area_id(self):
        return self.appeal.area_id


class Meeting(models.Model):
    """A screening meeting (矛盾纠纷排查例会): villages weekly, townships half-monthly."""

    area = models.ForeignKey("areas.Area", verbose_name=_("区域"), on_delete=models.PROTECT)
    held_on = models.DateField(_("日期"))
    attendees = models.TextField(_("参会人员"))
    decisions = models.TextField(_("议定事项"), blank=True)
    appeals = models.ManyToManyField(Appeal, verbose_name=_("研判事项"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("排查例会")
        verbose_name_plural = _("排查例会")
        ordering = ["-held_on", "-id"]
        indexes = [
            # meeting list of an area; "no meeting this week" flag
            models.Index(fields=["area", "-held_on"], name="meeting_area_idx")
        ]


class Reception(models.Model):
    """Reception duty (大接访): which leader or cadre received whom, when, about what."""

    area = models.ForeignKey("areas.Area", verbose_name=_("区域"), on_delete=models.PROTECT)
    received_on = models.DateField(_("接访日期"))
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接访人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    visitor = models.CharField(_("来访人"), max_length=50)
    summary = models.TextField(_("来访事由"))
    appeal = models.ForeignKey(
        Appeal, verbose_name=_("形成诉求"), null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("接访记录")
        verbose_name_plural = _("接访记录")
        ordering = ["-received_on", "-id"]
