from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from minqing.core.roles import Role
from minqing.core.scoping import ScopedQuerySet
from minqing.core.usercache import users_changed


class UnitKind(models.TextChoices):
    COUNTY_DEPARTMENT = "county_department", _("区直部门")
    POLICE_STATION = "police_station", _("派出所")
    CIVIL_AFFAIRS = "civil_affairs", _("民政所")
    HUMAN_RESOURCES = "human_resources", _("人社所")
    TOWNSHIP_GOVERNMENT = "township_government", _("乡镇政府/街道办")
    VILLAGE_COMMITTEE = "village_committee", _("村委会/居委会")
    SUPERVISION_OFFICE = "supervision_office", _("督查室")
    POLITICAL_LEGAL = "political_legal", _("政法委")
    OTHER = "other", _("其他")


class UnitQuerySet(ScopedQuerySet):
    def update(self, **kwargs):
        rows = super().update(**kwargs)
        users_changed()  # the session's user is cached with their unit (core.usercache)
        return rows


class Unit(models.Model):
    """An organisation that receives and handles work: a department, a police station,
    a township government, a village committee. It sits in the area it serves."""

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=32, choices=UnitKind.choices)
    area = models.ForeignKey("areas.Area", verbose_name=_("所在区域"), on_delete=models.PROTECT)
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["area__path", "name"]
        constraints = [
            models.UniqueConstraint(fields=["area", "name"], name="unit_unique_name_in_area")
        ]

    def __str__(self):
        return self.name


class UserQuerySet(ScopedQuerySet):
    area_path_field = "jurisdictions__area__path"

    def visible_to(self, user):
        """Staff whose jurisdiction lies inside the viewer's."""
        return super().visible_to(user).distinct()

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        users_changed()  # bulk writes (scope_version bumps...): no cached user survives them
        return rows


class MinqingUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A staff member. Role decides actions; jurisdiction (areas) decides what they see."""

    role = models.CharField(
        _("角色"), max_length=32, choices=Role.choices, default=Role.GRID_WORKER
    )
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    # Set when an administrator creates the account (they typed its first password): every
    # page leads to the password change until the owner has chosen their own.
    must_change_password = models.BooleanField(_("须修改初始密码"), default=False, db_default=False)
    areas = models.ManyToManyField(
        "areas.Area", through="Jurisdiction", related_name="staff", verbose_name=_("管辖区域")
    )
    # Bumped (in the same transaction) whenever the user's jurisdiction or role changes:
    # the jurisdiction paths kept in the session are trusted only while it is unchanged
    # (core.scoping.JurisdictionCacheMiddleware). Read with the user row, so it costs nothing.
    scope_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    objects = MinqingUserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self):
        return self.get_full_name() or self.username

    def get_full_name(self):
        # Chinese names: family name first, no space.
        return f"{self.last_name}{self.first_name}".strip()

    def jurisdiction_paths(self) -> list[str]:
        from minqing.core.scoping import jurisdiction_paths

        return jurisdiction_paths(self)


class Jurisdiction(models.Model):
    """One area a user holds; they see its whole subtree."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="jurisdictions")
    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("管辖区域")
        verbose_name_plural = _("管辖区域")
        constraints = [models.UniqueConstraint(fields=["user", "area"], name="jurisdiction_unique")]


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A personal API token for scripts and mobile clients. It acts as its user (role and
    jurisdiction); only the SHA-256 of the secret is stored, the secret is shown once."""

    user = models.ForeignKey(
        User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("用途"), max_length=100)
    prefix = models.CharField(_("前缀"), max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        User, verbose_name=_("创建人"), on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    # When the owner made it in a session confirmed by their second factor. A role that
    # needs one (political-legal officers) may use only such tokens, and only for
    # OTP_TOKEN_MAX_AGE_DAYS after that moment.
    second_factor_at = models.DateTimeField(_("双因素验证时间"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]
        indexes = [
            # the token page: one user's tokens, newest first
            models.Index(fields=["user", "-created_at"], name="apitoken_user_idx"),
        ]

    def __str__(self):
        return f"{self.prefix}… {self.name}"

    @property
    def audit_area_id(self):
        return None
