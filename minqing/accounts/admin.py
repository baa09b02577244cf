from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from minqing.core.admin import ScopedAdmin

from .models import Jurisdiction, Unit, User


class JurisdictionInline(admin.TabularInline):
    model = Jurisdiction
    raw_id_fields = ("area",)
    extra = 1


@admin.register(User)
class UserAdmin(ScopedAdmin, BaseUserAdmin):
    list_display = ("username", "get_full_name", "role", "unit", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "first_name", "last_name", "phone")
    raw_id_fields = ("unit",)
    inlines = [JurisdictionInline]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("民情"), {"fields": ("role", "unit", "phone")}),
    )


@admin.register(Unit)
class UnitAdmin(ScopedAdmin):
    list_display = ("name", "kind", "area", "is_active")
    list_filter = ("kind",)
    search_fields = ("name",)
    raw_id_fields = ("area",)
