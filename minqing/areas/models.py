from django.db import models
from django.utils.translation import gettext_lazy as _

from minqing.core.scoping import ScopedQuerySet


class Level(models.IntegerChoices):
    CITY = 1, _("市/州")
    COUNTY = 2, _("区/县")
    TOWNSHIP = 3, _("乡镇/街道")
    VILLAGE = 4, _("村/社区")
    GRID = 5, _("网格")


# Significant digits of the 12-digit statistical division code at each level; the rest
# are zeros. Grids have no statistical code: theirs is the village code + 3 digits.
CODE_DIGITS = {Level.CITY: 4, Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12}
GRID_CODE_LENGTH = 15
PATH_SEP = "."


class AreaQuerySet(ScopedQuerySet):
    area_path_field = "path"

    def subtree(self, area):
        return self.filter(path__startswith=area.path)


class Area(models.Model):
    """One node of the area tree. `path` is the codes from the root, so a subtree is a
    single indexed prefix query (path LIKE 'prefix%')."""

    level = models.PositiveSmallIntegerField(_("层级"), choices=Level.choices)
    code = models.CharField(_("区划代码"), max_length=15, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        db_index=False,  # area_children_idx (parent, name) leads with it
    )
    path = models.CharField(max_length=255, unique=True, editable=False)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["path"]
        # visible_to / subtree: path LIKE 'prefix%' uses the pattern-ops index PostgreSQL
        # gets with `unique=True` on a CharField (areas_area_path_…_like); a second one of
        # our own was the same index written twice
        indexes = [
            # children of one area, by name (also serves every lookup by parent alone)
            models.Index(fields=["parent", "name"], name="area_children_idx"),
        ]

    def __str__(self):
        return self.name

    @staticmethod
    def build_path(parent_path: str, code: str) -> str:
        return f"{parent_path}{code}{PATH_SEP}"

    @property
    def ancestor_codes(self) -> list[str]:
        return [c for c in self.path.split(PATH_SEP) if c][:-1]

    def ancestors(self):
        return Area.objects.filter(code__in=self.ancestor_codes).order_by("level")

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)
