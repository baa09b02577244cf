"""Household visits (走访 / 民情日志), what they raised, later notes, and the must-visit
rules (五必访/六必访) as data."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minqing.core.attachments import AttachmentBase
from minqing.core.scoping import ScopedQuerySet


class VisitQuerySet(ScopedQuerySet):
    area_path_field = "grid__path"


class Visit(models.Model):
    """One visit to one household: when, where, who was met, what the situation is.

    `grid` is the household's grid at the time of the visit (scoping and coverage by grid
    read it without a join). Editable by its recorder for 24 hours; after that corrections
    are VisitNote rows (append-only).
    """

    household = models.ForeignKey(
        "registry.Household",
        verbose_name=_("走访户"),
        on_delete=models.PROTECT,
        related_name="visits",
        db_index=False,  # visit_household_time_idx serves it
    )
    grid = models.ForeignKey(
        "areas.Area",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # visit_grid_time_idx serves it
    )
    visited_at = models.DateTimeField(_("走访时间"))
    place = models.CharField(_("走访地点"), max_length=200, blank=True)
    met_members = models.ManyToManyField(
        "registry.Resident", verbose_name=_("见到的家庭成员"), blank=True, related_name="+"
    )
    met_others = models.CharField(_("见到的其他人"), max_length=200, blank=True)
    situation = models.TextField(_("情况"))
    visitors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("走访人"),
        related_name="visits_made",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # visit_recorder_time_idx serves it
    )
    follow_up_date = models.DateField(_("回访日期"), null=True, blank=True)
    # Generated on the phone: the same offline visit uploaded twice is stored once.
    client_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("走访记录")
        verbose_name_plural = _("走访记录")
        ordering = ["-visited_at", "-id"]
        indexes = [
            # the household page's visits; coverage's anti-join (any visit of household H
            # in [start, end)); the due list's last visit per household
            models.Index(fields=["household", "visited_at"], name="visit_household_time_idx"),
            # coverage: the households visited in the area's grids in a period (index
            # only, hence the household included); the jurisdiction's visit list
            models.Index(
                fields=["grid", "visited_at"], include=["household"], name="visit_grid_time_idx"
            ),
            # the visit log (民情日志) of one cadre for a period
            models.Index(fields=["recorded_by", "visited_at"], name="visit_recorder_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(situation=""), name="visit_situation_not_empty"),
        ]

    def __str__(self):
        return f"{self.household_id} @ {self.visited_at:%Y-%m-%d %H:%M}"


class FindingQuerySet(ScopedQuerySet):
    area_path_field = "visit__grid__path"


class VisitFinding(models.Model):
    """What a visit raised, in the same save: a tag found, a follow-up date, a need or a
    dispute (each filed as an appeal through the appeals intake)."""

    class Kind(models.TextChoices):
        TAG = "tag", _("重点人群认定")
        FOLLOW_UP = "follow_up", _("约定回访")
        NEED = "need", _("诉求/困难")
        DISPUTE = "dispute", _("矛盾纠纷")

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="findings")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    text = models.CharField(_("内容"), max_length=500, blank=True)
    tag_period = models.ForeignKey(
        "registry.TagPeriod", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The appeal filed from a need or dispute through the appeals intake (channel 走访).
    appeal = models.ForeignKey(
        "appeals.Appeal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        verbose_name = _("走访发现")
        verbose_name_plural = _("走访发现")
        ordering = ["visit_id", "id"]


class NoteQuerySet(ScopedQuerySet):
    area_path_field = "visit__grid__path"


class VisitNote(models.Model):
    """A later, dated correction or addition to a visit: the visit itself is not edited
    after 24 hours. Append-only."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="notes")
    text = models.TextField(_("补充说明"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NoteQuerySet.as_manager()

    class Meta:
        verbose_name = _("走访补记")
        verbose_name_plural = _("走访补记")
        ordering = ["visit_id", "created_at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("VisitNote is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("VisitNote is append-only")


class LastVisit(models.Model):
    """The latest visit per household, kept in the same transaction as each visit: the due
    list reads it instead of scanning the visits."""

    household = models.OneToOneField(
        "registry.Household", primary_key=True, on_delete=models.CASCADE, related_name="last_visit"
    )
    visited_at = models.DateTimeField()
    # The follow-up the latest visit promised; a later visit replaces it.
    follow_up_date = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("最近走访")
        verbose_name_plural = _("最近走访")


class HouseholdTags(models.Model):
    """The tags a household carries, kept per household for coverage (one row per
    household that ever had a tag period): `tags` the tag ids of its open-ended periods as
    ",1,3," (tested with LIKE '%,3,%'), `since` the latest start or end date of any of its
    periods, `grid_id` the household's grid (coverage reads an area's rows by grid, index
    only). On any day >= `since` the household carries exactly `tags`; before it,
    coverage asks the tag periods. Kept by database triggers on registry_tagperiod (and on
    registry_household for the grid), in the writing statement's transaction, whatever
    writes (services, imports, COPY); `minqing household_tags --check` compares them with
    a recount, `--rebuild` recounts."""

    household = models.OneToOneField(
        "registry.Household",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # written by triggers only; a household with periods stays
        related_name="+",
    )
    grid_id = models.BigIntegerField()
    tags = models.CharField(max_length=500)
    since = models.DateField(null=True)

    class Meta:
        verbose_name = _("户标签汇总")
        verbose_name_plural = _("户标签汇总")
        indexes = [
            # coverage: an area's households with their tags, by grid, index only
            models.Index(
                fields=["grid_id"],
                include=["household", "tags", "since"],
                name="householdtags_grid_idx",
            ),
        ]


class HouseholdMonth(models.Model):
    """The visits a household had in one calendar month (local time), one row per
    household and month with at least one visit, and the latest of their times: coverage
    of a period from a month's first day reads an area's rows by grid and month, an
    indexed range, instead of counting the period's visits per household (a household
    whose latest visit in the period's last month falls after the period's end is counted
    from its visits). `grid_id` is the household's grid now (as in HouseholdTags), not
    the grid the visits were recorded in. Kept by database triggers on visits_visit (and on
    registry_household for the grid), in the writing statement's transaction, whatever
    writes (services, offline sync, bulk loads, deletes); `minqing household_months
    --check` compares the rows with a recount from the visits, `--rebuild` recounts."""

    pk = models.CompositePrimaryKey("household", "month")
    household = models.ForeignKey(
        "registry.Household",
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # written by triggers only
        db_index=False,  # the primary key leads with it
        related_name="+",
    )
    month = models.DateField()  # the first day of the month
    grid_id = models.BigIntegerField()
    visits = models.IntegerField()
    last_at = models.DateTimeField()

    class Meta:
        verbose_name = _("户月走访次数")
        verbose_name_plural = _("户月走访次数")
        indexes = [
            # coverage of whole months: an area's grids, one range each, index only
            models.Index(
                fields=["grid_id", "month"],
                include=["household", "visits", "last_at"],
                name="householdmonth_grid_idx",
            ),
        ]


class HouseholdDue(models.Model):
    """The kept next-due date of a household under the must-visit rules and its latest
    follow-up (one row per household with something due, whenever): the due list and the
    home panel read an area's rows by grid and date, an indexed range, instead of
    evaluating the rules over the jurisdiction. `since` is the latest start date (of a tag
    or a pairing) that went into `due`: the row holds on any day >= since. Kept by
    database triggers in the writing statement's transaction (see household_due.py);
    `minqing household_due --check` compares it with the rules engine, `--rebuild`
    recounts."""

    household = models.OneToOneField(
        "registry.Household",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # written by triggers only
        related_name="+",
    )
    grid_id = models.BigIntegerField()
    due = models.DateField()
    since = models.DateField(null=True)

    class Meta:
        verbose_name = _("户下次应访日期")
        verbose_name_plural = _("户下次应访日期")
        indexes = [
            # the due list: an area's grids, nearest first, index only
            models.Index(
                fields=["grid_id", "due"],
                include=["household", "since"],
                name="householddue_grid_due_idx",
            ),
        ]


class VisitRule(models.Model):
    """五必访/六必访 as data: households matching the rule must be visited at least every
    `interval_days` days. The clock starts when the household starts matching."""

    class Kind(models.TextChoices):
        TAG = "tag", _("重点人群")
        OPEN_APPEAL = "open_appeal", _("有在办诉求")
        # 结对帮扶: a paired household must be visited by its own cadre
        PAIRING = "pairing", _("结对帮扶户")

    name = models.CharField(_("名称"), max_length=64, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.TAG)
    tag = models.ForeignKey(
        "registry.Tag",
        verbose_name=_("重点人群"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    interval_days = models.PositiveSmallIntegerField(_("走访周期(天)"))
    is_active = models.BooleanField(_("启用"), default=True)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        verbose_name = _("必访规则")
        verbose_name_plural = _("必访规则")
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="tag") | Q(tag__isnull=False), name="visitrule_tag_needs_tag"
            ),
            models.CheckConstraint(
                condition=Q(interval_days__gte=1), name="visitrule_interval_pos"
            ),
        ]

    def __str__(self):
        return self.name


class PairingQuerySet(ScopedQuerySet):
    area_path_field = "household__grid__path"
    # The paired cadre sees their own pairings wherever the household is.
    owner_field = "cadre"

    def on(self, day):
        """Pairings in force on `day` (the end date is the first day without it)."""
        return self.filter(start_date__lte=day).filter(
            Q(end_date__isnull=True) | Q(end_date__gt=day)
        )


class Pairing(models.Model):
    """结对帮扶 / 干部包户: a cadre answerable for a household from a date, until it ends.
    Pairings are dated rows, never deleted: ending one sets its end date. Must-visit rules
    of kind `pairing` ask the cadre to visit their households every N days."""

    cadre = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("帮扶责任人"),
        on_delete=models.PROTECT,
        related_name="pairings",
        db_index=False,  # pairing_cadre_open_idx serves it
    )
    household = models.ForeignKey(
        "registry.Household",
        verbose_name=_("结对户"),
        on_delete=models.PROTECT,
        related_name="pairings",
        db_index=False,  # pairing_household_idx serves it
    )
    start_date = models.DateField(_("结对日期"))
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PairingQuerySet.as_manager()

    class Meta:
        verbose_name = _("结对帮扶")
        verbose_name_plural = _("结对帮扶")
        ordering = ["household_id", "-start_date", "-id"]
        indexes = [
            # coverage's compliance probe per household; a household's pairings
            models.Index(fields=["household", "start_date"], name="pairing_household_idx"),
            # a cadre's paired households (due list, their pairing list)
            models.Index(
                fields=["cadre", "household"],
                name="pairing_cadre_open_idx",
                condition=Q(end_date__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cadre", "household"],
                condition=Q(end_date__isnull=True),
                name="pairing_one_open_per_cadre_household",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="pairing_end_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.cadre_id} ↔ {self.household_id} ({self.start_date})"

    @property
    def audit_area_id(self):
        return self.household.grid_id


class SyncConflictQuerySet(models.QuerySet):
    def of(self, user):
        """A cadre sees the conflicts of their own uploads (the household may have left
        their jurisdiction: that can be the conflict)."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)

    def open(self):
        return self.filter(resolved_at__isnull=True)


class SyncConflict(models.Model):
    """A visit captured offline that could not be stored on sync (the household moved out
    of reach, a tag already given...). Kept with its whole payload until the cadre resolves
    it: stored again (after the data was fixed) or dismissed. Never dropped."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    client_id = models.UUIDField(unique=True)
    payload = models.JSONField()
    error = models.CharField(_("原因"), max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = SyncConflictQuerySet.as_manager()

    class Meta:
        verbose_name = _("同步冲突")
        verbose_name_plural = _("同步冲突")
        ordering = ["-created_at", "-id"]
        indexes = [
            # a cadre's open conflicts (home panel, conflicts page)
            models.Index(
                fields=["user", "created_at"],
                name="syncconflict_open_idx",
                condition=Q(resolved_at__isnull=True),
            ),
        ]


# ---------------------------------------------------------------- questionnaires (问卷)


class SurveyQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Surveys of an area in the user's jurisdiction, or of an area above it (a
        township's survey is filled by its village cadres)."""
        from minqing.areas.models import PATH_SEP
        from minqing.core.scoping import jurisdiction_paths, path_q

        if user is not None and getattr(user, "is_superuser", False) and user.is_active:
            return self.all()
        paths = jurisdiction_paths(user)
        if not paths:
            return self.none()
        above = {p[: i + 1] for p in paths for i, ch in enumerate(p) if ch == PATH_SEP}
        return self.filter(path_q(paths, "area__path") | Q(area__path__in=above))


class Survey(models.Model):
    """A questionnaire for the households of an area: filled by cadres during visits or by
    residents through its public link, one answer per household."""

    class Status(models.TextChoices):
        OPEN = "open", _("进行中")
        CLOSED = "closed", _("已结束")

    title = models.CharField(_("问卷标题"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    area = models.ForeignKey(
        "areas.Area", verbose_name=_("调查范围"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    # The public link (/visits/s/<token>/): unguessable, not the primary key.
    public_token = models.CharField(max_length=32, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = SurveyQuerySet.as_manager()

    class Meta:
        verbose_name = _("问卷")
        verbose_name_plural = _("问卷")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("单选")
        MULTIPLE = "multiple", _("多选")
        SCALE = "scale", _("评分(1-5)")
        TEXT = "text", _("文字")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("题型"), max_length=16, choices=Kind.choices)
    text = models.CharField(_("题目"), max_length=200)
    options = models.JSONField(_("选项"), default=list, blank=True)
    required = models.BooleanField(_("必答"), default=True)
    # 1-5 scale questions marked here make the satisfaction index of an area.
    satisfaction = models.BooleanField(_("计入满意度"), default=False)

    class Meta:
        verbose_name = _("问题")
        verbose_name_plural = _("问题")
        ordering = ["survey_id", "order", "id"]

    def __str__(self):
        return self.text


class ResponseQuerySet(ScopedQuerySet):
    area_path_field = "grid__path"


class SurveyResponse(models.Model):
    """One household's answer sheet to one survey (unique: one per household)."""

    class Channel(models.TextChoices):
        VISIT = "visit", _("走访时填写")
        PUBLIC = "public", _("群众网上填写")

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    grid = models.ForeignKey(
        "areas.Area", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResponseQuerySet.as_manager()

    class Meta:
        verbose_name = _("问卷答卷")
        verbose_name_plural = _("问卷答卷")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "household"], name="surveyresponse_one_per_household"
            ),
        ]
        indexes = [
            # results of one survey for an area and period (grouped by grid)
            models.Index(fields=["survey", "grid", "created_at"], name="surveyresponse_area_idx"),
        ]


class Answer(models.Model):
    """One answer: an option index (single: one row, multiple: a row per option), a 1-5
    score, or a text."""

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    option = models.PositiveSmallIntegerField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    text = models.CharField(max_length=1000, blank=True)

    class Meta:
        verbose_name = _("答案")
        verbose_name_plural = _("答案")
        indexes = [
            # per-question counts and averages
            models.Index(fields=["question", "option"], name="answer_question_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5),
                name="answer_score_1_to_5",
            ),
        ]


class VisitPhoto(AttachmentBase):
    """A photo taken on the visit (core attachments: type sniffed, metadata stripped,
    served only after the visit was looked up through its scope)."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="photos")
    # Generated on the phone for a photo queued offline: uploaded twice, stored once.
    client_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta(AttachmentBase.Meta):
        verbose_name = _("走访照片")
        verbose_name_plural = _("走访照片")

    @property
    def audit_area_id(self):
        return self.visit.grid_id
