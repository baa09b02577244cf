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


# The TOTP secrets of the officers who read tips are not shown in the back office: django-otp's
# own admin displays the key (and a QR code of it) to any administrator. Here an administrator
# sees who has a device and may delete it (the officer enrols again at the next login), no more.
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(AuditedAdmin):
    list_display = ("user", "name", "confirmed")
    fields = ("user", "name", "confirmed")
    readonly_fields = ("user", "name", "confirmed")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        from minqing.accounts.models import User

        return super().get_queryset(request).filter(user__in=User.objects.visible_to(request.user))
