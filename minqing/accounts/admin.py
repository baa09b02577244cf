from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from minqing.core.admin import ScopedAdmin, ScopedInline, ServiceAdmin
from minqing.core.audit import audit_record

from .models import ApiToken, Jurisdiction, Unit, User
from .services import (
    unit_create,
    unit_update,
    user_set_jurisdiction,
    user_set_role,
    users_manageable_by,
)

# What makes a user powerful: only a superuser changes these in the back office, and role
# changes go through user_set_role even then.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions", "role")


class JurisdictionInline(ScopedInline):
    """Saved through user_set_jurisdiction (see UserAdmin.save_formset), never row by row."""

    model = Jurisdiction
    raw_id_fields = ("area",)
    extra = 1


@admin.register(User)
class UserAdmin(ScopedAdmin, BaseUserAdmin):
    list_display = ("username", "get_full_name", "role", "unit", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "first_name", "last_name")
    raw_id_fields = ("unit",)
    inlines = [JurisdictionInline]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("民情"), {"fields": ("role", "unit", "phone")}),
    )

    def get_queryset(self, request):
        return users_manageable_by(request.user).select_related("unit")

    def has_add_permission(self, request):
        # A new account needs a role and areas from the start: administrators use the page
        # /accounts/new/ (accounts.services.user_create), which checks both.
        return request.user.is_superuser

    def user_change_password(self, request, id, form_url=""):
        """A password an administrator sets is a first password again: its owner changes it
        at the next login."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302 and str(request.user.pk) != id:
            User.objects.filter(pk=id).update(must_change_password=True)
            audit_record(
                actor=request.user,
                action="auth.password_set",
                obj=User.objects.get(pk=id),
            )
        return response

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj)) + ["last_login", "date_joined"]
        if not request.user.is_superuser:
            readonly += PRIVILEGE_FIELDS
        return readonly

    def save_model(self, request, obj, form, change):
        """The role is changed by user_set_role (its rules, its audit event), not here."""
        new_role = obj.role
        if not change:
            obj.must_change_password = True  # a superuser typed its first password
        role_changed = change and "role" in form.changed_data
        if role_changed:
            obj.role = form.initial.get("role", obj.role)
        super().save_model(request, obj, form, change)
        if role_changed:
            user_set_role(actor=request.user, user=obj, role=new_role)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Jurisdiction:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # fills the change message; nothing is written here
        user = form.instance
        areas = [
            f.cleaned_data["area"]
            for f in formset.forms
            if f.cleaned_data and f.cleaned_data.get("area") and not f.cleaned_data.get("DELETE")
        ]
        current = set(user.jurisdictions.values_list("area_id", flat=True))
        if {a.pk for a in areas} != current:
            user_set_jurisdiction(actor=request.user, user=user, areas=list(dict.fromkeys(areas)))


@admin.register(Unit)
class UnitAdmin(ServiceAdmin):
    """Units are created and changed through unit_create / unit_update (name rules, area in
    the actor's jurisdiction, audit; not switched off while they still have open work); the
    area of a saved unit is fixed."""

    list_display = ("name", "kind", "area", "is_active")
    list_filter = ("kind",)
    search_fields = ("name",)
    raw_id_fields = ("area",)
    create_service = unit_create

    def change_service(self, request, obj, data):
        return unit_update(actor=request.user, unit=obj, **data)

    def get_readonly_fields(self, request, obj=None):
        return ("area",) if obj else ()


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdmin):
    """Tokens are listed and revoked (by their owners on /accounts/tokens/); the secret is
    never stored, so there is nothing to show or edit."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)
    fields = ("prefix", "name", "user", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return ApiToken.objects.filter(user__in=users_manageable_by(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
