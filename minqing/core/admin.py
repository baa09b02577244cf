"""The back office, held to the same rules as the pages and the API.

- Every list is scoped (`visible_to`), and so is every choice a form offers: foreign keys and
  many-to-many fields (raw-id ones too, since the form validates against the same queryset).
- No lookup, filter or search on 身份证号 or phone fields: they would rebuild a masked value
  one digit at a time (`?id_number__startswith=4303…`).
- Writes of records that have a service (areas, units, places, organisations) go through
  it: the same validation, scope check and audit as the API. `ServiceAdmin` does that.
- Every change, inline rows included, is audited.
"""

import inspect

from django.contrib import admin
from django.db import transaction

from .audit import audit_record
from .errors import DomainError
from .models import AuditEvent, CalendarDay, Job

# Field names that hold (or are derived from) an 身份证号 or a phone number.
SENSITIVE_FIELD_MARKERS = ("id_number", "id_tail", "phone")


def is_sensitive_lookup(lookup: str) -> bool:
    return any(marker in part for part in lookup.split("__") for marker in SENSITIVE_FIELD_MARKERS)


def scoped_choices(model, user):
    """The rows of `model` a user may pick in a form: their jurisdiction when the model is
    scoped, otherwise none for non-superusers (an unscoped choice list is a leak)."""
    qs = model._default_manager.all()
    if hasattr(qs, "visible_to"):
        return qs.visible_to(user)
    return qs if user.is_superuser else qs.none()


class ScopedFormfieldsMixin:
    """Foreign-key and many-to-many choices limited to what the user sees."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_choices(db_field.remote_field.model, request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_choices(db_field.remote_field.model, request.user))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class NoSensitiveLookupsMixin:
    def lookup_allowed(self, lookup, value, request=None):
        if is_sensitive_lookup(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request):
        return [f for f in super().get_search_fields(request) if not is_sensitive_lookup(f)]


class AuditedAdmin(NoSensitiveLookupsMixin, ScopedFormfieldsMixin, admin.ModelAdmin):
    """Back-office edits go to the audit log like every other change."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"admin.{'change' if change else 'add'}",
            obj=obj,
            detail={"fields": sorted(form.changed_data)},
        )

    def save_formset(self, request, form, formset, change):
        """Inline rows (added, changed, deleted) are audited one by one."""
        deleted = [(f.instance, str(f.instance)) for f in formset.deleted_forms if f.instance.pk]
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            audit_record(actor=request.user, action="admin.inline.add", obj=obj)
        for obj, fields in formset.changed_objects:
            audit_record(
                actor=request.user,
                action="admin.inline.change",
                obj=obj,
                detail={"fields": sorted(fields)},
            )
        for obj, label in deleted:
            audit_record(
                actor=request.user,
                action="admin.inline.delete",
                obj=None,
                area=None,
                detail={"model": obj._meta.label_lower, "object": label[:200]},
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


class ScopedInline(ScopedFormfieldsMixin, admin.TabularInline):
    """An inline whose choices are scoped like its parent admin's."""


class ServiceAdmin(ScopedAdmin):
    """Adds (and, where a service exists, changes) go through the service the API uses.

    Set `create_service` (called with actor= and the form's fields it accepts) and
    optionally `change_service(admin, request, obj, data)`; without one, saved rows are
    read-only. A DomainError becomes a form error and nothing is written."""

    create_service = None

    def change_service(self, request, obj, data):
        return None

    def has_change_permission(self, request, obj=None):
        if obj is not None and type(self).change_service is ServiceAdmin.change_service:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # rows are referenced by the registry and the audit log

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        model_admin = self

        class ServiceForm(form_class):
            def _post_clean(self):
                super()._post_clean()
                if self.errors:
                    return
                try:
                    with transaction.atomic():
                        if self.instance.pk is None:
                            saved = model_admin._create(request, self.cleaned_data)
                        else:
                            saved = model_admin.change_service(
                                request, self.instance, self.cleaned_data
                            )
                except DomainError as exc:
                    self.add_error(None, str(exc.message))
                    return
                if saved is not None:
                    self.instance = saved
                    self.saved_by_service = True

        return ServiceForm

    def _create(self, request, data):
        service = type(self).create_service
        accepted = inspect.signature(service).parameters
        return service(actor=request.user, **{k: v for k, v in data.items() if k in accepted})

    def save_model(self, request, obj, form, change):
        if getattr(form, "saved_by_service", False):
            return  # written and audited by the service
        super().save_model(request, obj, form, change)


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
