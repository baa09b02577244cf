from django.contrib import admin

from minqing.core.admin import AuditedAdmin, ReadOnlyAdmin

from .models import Appeal, Category


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    """Administrators keep the categories: default unit, deadlines, extra questions
    (JSON list of {"key", "label", "required"})."""

    list_display = (
        "order",
        "name",
        "code",
        "default_unit",
        "days_village",
        "days_township",
        "days_county",
        "is_active",
    )
    list_display_links = ("name",)
    list_editable = ("order", "is_active")
    list_select_related = ("default_unit",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "default_unit":
            from minqing.accounts.models import Unit

            kwargs["queryset"] = Unit.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    """Read-only: appeals change only through their workflow."""

    list_display = ("id", "title", "category", "area", "state", "due_at")
    list_filter = ("state", "category", "channel")
    list_select_related = ("category", "area")
    search_fields = ("title",)
