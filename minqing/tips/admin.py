"""Back office: categories and custodians only. Tips, identities, messages and notes are not
registered at all, so the Django admin cannot show them to anyone (superusers included)."""

from django.contrib import admin

from minqing.core.admin import AuditedAdmin

from .models import TipCategory, TipCustodian


@admin.register(TipCategory)
class TipCategoryAdmin(AuditedAdmin):
    list_display = ("name", "order", "is_active")
    list_editable = ("order", "is_active")

    def has_delete_permission(self, request, obj=None):
        return False  # tips and statistics keep their category; deactivate instead


@admin.register(TipCustodian)
class TipCustodianAdmin(AuditedAdmin):
    list_display = ("user", "area")
    autocomplete_fields = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from minqing.accounts.models import User
        from minqing.areas.models import Area

        if db_field.name == "user":
            kwargs["queryset"] = User.objects.visible_to(request.user).filter(
                role="political_legal"
            )
        if db_field.name == "area":
            kwargs["queryset"] = Area.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(area__in=_areas(request.user))


def _areas(user):
    from minqing.areas.models import Area

    return Area.objects.visible_to(user)
