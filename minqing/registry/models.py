"""The registry: households, residents, places, organisations, and key-group tags with
their dated history (动态管理)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.core.masking import age_on, mask_id_number, mask_phone
from minqing.core.scoping import ScopedQuerySet
from minqing.core.workflow import Workflow, WorkflowEvent, register_workflow


class HouseholdQuerySet(ScopedQuerySet):
    area_path_field = "grid__path"


class Household(models.Model):
    """One household (户) in one grid."""

    # Keeps its own index beside household_grid_idx: with it PostgreSQL reads a
    # jurisdiction's households by grid instead of scanning them all (bench/RESULTS.md).
    grid = models.ForeignKey(
        "areas.Area", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="households"
    )
    number = models.CharField(_("户编号"), max_length=32, unique=True)
    address = models.CharField(_("住址"), max_length=200)
    head = models.ForeignKey(
        "Resident",
        verbose_name=_("户主"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    # Optimistic locking: every edit through household_update adds one; an edit made from
    # an older version is refused with 409 (no lost updates between two editors).
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")
        ordering = ["number"]
        indexes = [
            # household list of one grid (the grid worker's daily list)
            models.Index(fields=["grid", "number"], name="household_grid_idx"),
        ]

    def __str__(self):
        return f"{self.number} {self.address}"

    @property
    def name(self) -> str:
        """How people name a household: after its head (唐超德户), or by number if headless.
        Load `head` with select_related where households are listed."""
        if self.head_id and self.head is not None:
            return _("%(name)s户") % {"name": self.head.name}
        return _("户 %(number)s") % {"number": self.number}

    @property
    def label(self) -> str:
        """唐超德户 · 七星村3组11号: the name and the address, the number kept apart."""
        return f"{self.name} · {self.address}" if self.address else str(self.name)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class ResidentStatus(models.TextChoices):
    LIVING = "living", _("在住")
    MOVED_OUT = "moved_out", _("迁出")
    DECEASED = "deceased", _("已故")


class Relation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孙子女")
    GRANDPARENT = "grandparent", _("祖父母")
    SIBLING = "sibling", _("兄弟姐妹")
    CHILD_IN_LAW = "child_in_law", _("儿媳/女婿")
    OTHER = "other", _("其他")


class ResidentQuerySet(ScopedQuerySet):
    area_path_field = "household__grid__path"


class Resident(models.Model):
    """One person. 身份证号 is stored once, validated, and shown masked."""

    household = models.ForeignKey(
        Household,
        verbose_name=_("所在户"),
        on_delete=models.PROTECT,
        related_name="members",
        db_index=False,  # resident_household_idx (household, status) serves it
    )
    name = models.CharField(_("姓名"), max_length=50)
    # Unique through Meta.constraints: no extra LIKE index nobody queries on PostgreSQL.
    id_number = models.CharField(_("身份证号"), max_length=18)
    gender = models.CharField(_("性别"), max_length=1, choices=[("M", _("男")), ("F", _("女"))])
    birth_date = models.DateField(_("出生日期"))
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    relation = models.CharField(
        _("与户主关系"), max_length=16, choices=Relation.choices, default=Relation.OTHER
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=ResidentStatus.choices, default=ResidentStatus.LIVING
    )
    status_date = models.DateField(_("状态日期"), null=True, blank=True)
    # Search keys, derived from name / id / phone when saved through the services:
    # (Searched inside a jurisdiction, whose grid filter narrows first; only the prefix
    # searches get an index, see Meta.indexes.)
    name_norm = models.CharField(max_length=50, editable=False)  # 繁→简
    name_pinyin = models.CharField(max_length=200, editable=False)  # zhangdeshu
    name_initials = models.CharField(max_length=50, editable=False)  # zds
    id_tail = models.CharField(max_length=6, editable=False)  # last 6 of id
    phone_tail = models.CharField(max_length=4, editable=False, blank=True)
    # Optimistic locking, as Household.version: resident_update and resident_move add one.
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ResidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")
        ordering = ["household_id", "id"]
        indexes = [
            # members of one household, in the household page and the list (also serves
            # the foreign key, which therefore has no index of its own)
            models.Index(fields=["household", "status"], name="resident_household_idx"),
            # search: pinyin and initials from the start ("zhangdeshu", "zds")
            models.Index(
                fields=["name_pinyin"],
                name="resident_pinyin_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["name_initials"],
                name="resident_initials_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            # search: the last four digits of the phone
            models.Index(fields=["phone_tail"], name="resident_phone_tail_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["id_number"], name="resident_id_number_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    @property
    def age(self) -> int | None:
        """Age in full years today (or at death, for the deceased): what pages, API and
        exports show instead of the birth date (core.masking)."""
        day = timezone.localdate()
        if self.status == ResidentStatus.DECEASED and self.status_date:
            day = self.status_date
        return age_on(self.birth_date, day)


class Tag(models.Model):
    """A key group (重点人群). System tags come with the product; admins add more."""

    class Scope(models.TextChoices):
        RESIDENT = "resident", _("个人")
        HOUSEHOLD = "household", _("户")

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    scope = models.CharField(
        _("对象"), max_length=16, choices=Scope.choices, default=Scope.RESIDENT
    )
    description = models.CharField(_("说明"), max_length=200, blank=True)
    is_system = models.BooleanField(_("系统内置"), default=False)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        verbose_name = _("重点人群标签")
        verbose_name_plural = _("重点人群标签")
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class TagPeriodQuerySet(ScopedQuerySet):
    area_path_field = "household__grid__path"

    def on(self, day):
        """Tags carried on `day`: started on or before it, not ended by it."""
        return self.filter(start_date__lte=day).filter(
            Q(end_date__isnull=True) | Q(end_date__gt=day)
        )

    def current(self):
        return self.filter(end_date__isnull=True)


class TagPeriod(models.Model):
    """One span during which a resident (or household) carried a tag.

    Given with a date, reason and actor; removed by setting end date, reason and actor
    (the row stays: that is the history). `household` is always set, for scoping and
    for household-level tags; `resident` is set for personal tags.
    """

    # The tag and resident keys are served by the composite indexes in Meta.indexes; the
    # actor keys serve no query (accounts are deactivated, never deleted).
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="periods", db_index=False)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="tag_periods")
    resident = models.ForeignKey(
        Resident,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tag_periods",
        db_index=False,
    )
    start_date = models.DateField(_("起始日期"))
    start_reason = models.CharField(_("认定原因"), max_length=200)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    end_date = models.DateField(_("终止日期"), null=True, blank=True)
    end_reason = models.CharField(_("退出原因"), max_length=200, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TagPeriodQuerySet.as_manager()

    class Meta:
        verbose_name = _("标签记录")
        verbose_name_plural = _("标签记录")
        ordering = ["-start_date", "-id"]
        indexes = [
            # "who carried tag T on day D": range scan per tag
            models.Index(fields=["tag", "start_date", "end_date"], name="tagperiod_tag_day_idx"),
            # household list filtered by a current tag
            models.Index(
                fields=["tag", "household"],
                name="tagperiod_current_idx",
                condition=Q(end_date__isnull=True),
            ),
            models.Index(fields=["resident", "tag"], name="tagperiod_resident_idx"),
            # visits coverage: the must-visit tags one household carries on a day, one
            # index-only probe per household
            models.Index(
                fields=["household", "tag"],
                include=["start_date", "end_date"],
                name="tagperiod_household_tag_idx",
            ),
        ]
        constraints = [
            # one open period per tag and person (or household, for household tags)
            models.UniqueConstraint(
                fields=["tag", "resident"],
                condition=Q(end_date__isnull=True, resident__isnull=False),
                name="tagperiod_one_open_per_resident",
            ),
            models.UniqueConstraint(
                fields=["tag", "household"],
                condition=Q(end_date__isnull=True, resident__isnull=True),
                name="tagperiod_one_open_per_household",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="tagperiod_end_after_start",
            ),
        ]


class Move(models.Model):
    """迁入/迁出: a resident moved between households (and so grids), or in/out of the area."""

    class Kind(models.TextChoices):
        MOVE_IN = "in", _("迁入")
        MOVE_OUT = "out", _("迁出")
        TRANSFER = "transfer", _("户间迁移")
        DEATH = "death", _("死亡")
        CORRECTION = "correction", _("更正")

    # Kinds a correction can undo: the irreversible ones.
    CORRECTABLE = ("transfer", "out", "death")

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    from_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    date = models.DateField(_("日期"))
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # What the move changed, so a correction can put it back.
    previous_relation = models.CharField(max_length=16, blank=True)
    previous_status_date = models.DateField(null=True, blank=True)
    # A correction (kind "correction") points to the move it undoes; a move is corrected at
    # most once. Neither row is ever edited or deleted: the pair is the history.
    corrects = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction"
    )

    class Meta:
        verbose_name = _("迁移记录")
        verbose_name_plural = _("迁移记录")
        ordering = ["-date", "-id"]


class PlaceQuerySet(ScopedQuerySet):
    area_path_field = "grid__path"


class ContactMasked:
    """Places and organisations show their contact phone masked (lists, forms, the API)."""

    @property
    def contact_phone_masked(self) -> str:
        return mask_phone(self.contact_phone)


class Place(ContactMasked, models.Model):
    """地/物 in the grid: shops, markets, rented houses, danger spots."""

    class Kind(models.TextChoices):
        SHOP = "shop", _("商铺")
        MARKET = "market", _("市场")
        RENTAL = "rental", _("出租房")
        DANGER = "danger", _("安全隐患点")
        SCHOOL = "school", _("学校")
        PUBLIC = "public", _("公共场所")
        OTHER = "other", _("其他")

    grid = models.ForeignKey(
        "areas.Area", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="places"
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    notes = models.TextField(_("备注"), blank=True)

    objects = PlaceQuerySet.as_manager()

    class Meta:
        verbose_name = _("场所")
        verbose_name_plural = _("场所")
        ordering = ["grid_id", "name"]
        indexes = [models.Index(fields=["grid", "kind"], name="place_grid_idx")]

    def __str__(self):
        return self.name


class Organisation(ContactMasked, models.Model):
    """组织 in the grid: enterprises, social organisations, 两新组织."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("企业")
        SOCIAL = "social", _("社会组织")
        NEW_ECONOMIC = "new_economic", _("新经济组织")
        COOPERATIVE = "cooperative", _("合作社")
        OTHER = "other", _("其他")

    grid = models.ForeignKey(
        "areas.Area", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="organisations"
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    has_party_branch = models.BooleanField(_("建有党组织"), default=False)
    notes = models.TextField(_("备注"), blank=True)

    objects = PlaceQuerySet.as_manager()

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["grid_id", "name"]
        indexes = [models.Index(fields=["grid", "kind"], name="organisation_grid_idx")]

    def __str__(self):
        return self.name


class GridSummaryQuerySet(ScopedQuerySet):
    area_path_field = "grid__path"


class GridSummary(models.Model):
    """Kept counts of one grid (户, 在住居民, current key-group periods), so that a page at
    county or city level sums a few thousand rows instead of recounting a million.

    Kept in the same transaction as the change (registry/summaries.py: the registry's
    saves refresh their grids; bulk writers call `summaries_refresh`); `minqing
    summaries --check` compares them with a recount."""

    grid = models.OneToOneField(
        "areas.Area", primary_key=True, on_delete=models.CASCADE, related_name="summary"
    )
    households = models.PositiveIntegerField(default=0)
    residents = models.PositiveIntegerField(default=0)  # living
    people = models.PositiveIntegerField(default=0)  # every member, whatever the status
    tagged = models.PositiveIntegerField(default=0)  # open tag periods

    objects = GridSummaryQuerySet.as_manager()


class GridTagSummary(models.Model):
    """Open periods of one tag in one grid (the key-group counts of the overview)."""

    grid = models.ForeignKey(
        "areas.Area", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+", db_index=False)
    count = models.PositiveIntegerField(default=0)

    objects = GridSummaryQuerySet.as_manager()

    class Meta:
        constraints = [
            # one row per grid and tag; its index also serves the refresh's delete by grid
            models.UniqueConstraint(fields=["grid", "tag"], name="gridtagsummary_unique"),
        ]


# ---- a resident's status on the case kernel (core.workflow), its pilot user --------------
# Resident.status is the cached state; ResidentEvent rows are the truth since the pilot.
# Residents imported or registered before it have no events and keep their status
# (`adopted`); `manage.py check_workflows` replays the others and reports drift.


class ResidentEvent(WorkflowEvent):
    """One status change of a resident (迁出, 死亡, 迁入, 户间迁移, 更正) and its Move row."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="events")
    move = models.ForeignKey(
        Move, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta(WorkflowEvent.Meta):
        verbose_name = _("居民状态事件")
        verbose_name_plural = _("居民状态事件")
        indexes = [
            # a resident's history; check_workflows replay
            models.Index(fields=["resident", "at", "id"], name="resident_event_idx")
        ]


def _only_in_jurisdiction(actor, resident) -> None:
    """Guard: a status changes only for a person in the actor's jurisdiction (the
    household's grid), whatever page or API asked."""
    from minqing.core.errors import NotFoundError
    from minqing.core.scoping import covers

    grid_path = (
        Household.objects.filter(pk=resident.household_id)
        .values_list("grid__path", flat=True)
        .first()
    )
    if grid_path is None or not covers(actor, grid_path):
        raise NotFoundError()


_LIVING, _OUT, _DEAD = (s.value for s in ResidentStatus)
RESIDENT_FLOW = Workflow(
    name="resident",
    initial=_LIVING,
    transitions={
        (_LIVING, "transfer"): _LIVING,
        (_LIVING, "out"): _OUT,
        (_LIVING, "death"): _DEAD,
        (_OUT, "in"): _LIVING,
        (_OUT, "death"): _DEAD,
        # 更正 puts the person back as the corrected move found them: living
        (_LIVING, "correction"): _LIVING,
        (_OUT, "correction"): _LIVING,
        (_DEAD, "correction"): _LIVING,
    },
    perms={a: "registry.edit" for a in ("transfer", "out", "death", "in", "correction")},
    guards={a: _only_in_jurisdiction for a in ("transfer", "out", "death", "in", "correction")},
    labels={
        "transfer": _("户间迁移"),
        "out": _("迁出"),
        "death": _("死亡"),
        "in": _("迁入"),
        "correction": _("更正"),
    },
)
register_workflow(
    RESIDENT_FLOW,
    model=Resident,
    event_model=ResidentEvent,
    case_field="resident",
    state_field="status",
    adopted=True,
)
