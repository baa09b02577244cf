"""The roles of DESIGN.md. Which role may do what is decided in permissions.py only."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    VILLAGE_CADRE = "village_cadre", _("村干部")
    TOWNSHIP_STAFF = "township_staff", _("乡镇干部")
    DEPARTMENT_STAFF = "department_staff", _("部门工作人员")
    LEADER = "leader", _("领导")
    SUPERVISOR = "supervisor", _("督查人员")
    POLITICAL_LEGAL = "political_legal", _("政法干部")
    ADMIN = "admin", _("系统管理员")


ALL_ROLES = frozenset(Role.values)
