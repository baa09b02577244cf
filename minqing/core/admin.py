from django.contrib import admin

from .audit import audit_record
from .models import AuditEvent, CalendarDay, Job


class AuditedAdmin(admin.ModelAdmin):
    """Back-office edits go to the audit log like every other change."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"admin.{'change' if change else 'add'}",
            obj=obj,
            detail={"fields": sorted(form.changed_data)},
        )

    def delete_model(self, request, obj):
        audit_record(actor=request.user, action="admin.delete", obj=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(actor=request.user, action="admin.delete", obj=obj)
        super().delete_queryset(request, queryset)


class ScopedAdmin(AuditedAdmin):
    """Administrators see their jurisdiction in the back office, like everywhere else."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


class ReadOnlyAdmin(ScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: nobody edits or deletes the audit log."""

    list_display = ("at", "actor_label", "action", "target_type", "target_repr", "source_address")
    list_filter = ("action", "channel")
    search_fields = ("actor_label", "target_repr", "target_id", "action")
    date_hierarchy = "at"
    list_select_related = ("area",)

    def get_actions(self, request):
        return {}


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """A background job is seen by whoever started it (its errors quote the rows)."""

    list_display = ("created_at", "kind", "created_by", "status", "done", "total", "message")
    list_filter = ("kind", "status")


@admin.register(CalendarDay)
class CalendarDayAdmin(AuditedAdmin):
    """The holiday calendar (法定节假日与调休) behind every working-day deadline."""

    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    date_hierarchy = "date"
